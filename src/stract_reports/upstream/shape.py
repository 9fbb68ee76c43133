"""The shape of the last good report: which upstream calls it made, to speculate with next time.

A report's calls follow from a shape that rarely changes (the platform list, page counts,
accounts with their tokens, field keys). Remembering the calls themselves captures all of it:
the next report issues them at once, before the lists that justify them arrive, and then makes
exactly the calls a cold read makes, adopting a speculative one whenever it is the same request
(same endpoint, same parameters: same page, token and field list). Speculation is therefore
validated by construction: an adopted result is the answer to the very request a cold read
sends, made during this report; a speculative call nobody adopts (its assumption went stale)
is dropped and its failure never counts. The extra calls are at most the stale ones.

Never on disk: the calls carry account tokens. In memory; and, when the server processes share
a Redis, there too (as JSON, for ``SHAPE_TTL`` seconds) so that a fresh process's first report
is warm: a process with no shape for a report loads the fleet's, and each process stores its
shapes after a report that succeeded. The bearer token is never part of a call.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..redaction import register
from .fleet import OFF, SharedBackend

# How long a shape stays in Redis after the last process stored it.
SHAPE_TTL = 300.0
# Only these are ever issued from a shape read back from Redis (whoever could write there).
ENDPOINTS = frozenset({"platforms", "accounts", "fields", "insights"})


@dataclass(frozen=True)
class Planned:
    """One upstream call of a report: endpoint, query (in order) and the call in words."""

    endpoint: str
    params: tuple[tuple[str, str], ...]
    call: str

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What makes two calls the same request."""
        return (self.endpoint, tuple(sorted(self.params)))


class Shapes:
    """The calls of the last successful report per scope (a platform, or None for all), shared
    through ``shared`` when it is a fleet's backend."""

    def __init__(self, shared: SharedBackend | None = None) -> None:
        self._lock = threading.Lock()
        self._by_scope: dict[str | None, tuple[Planned, ...]] = {}
        self._shared = shared if shared is not None and shared.state != OFF else None
        self._stored = 0.0  # monotonic time this process last stored its shapes

    def remember(self, scope: str | None, calls: list[Planned]) -> None:
        """Keep the calls of a report that succeeded (replacing the scope's previous ones)."""
        shape = tuple(calls)
        with self._lock:
            changed = self._by_scope.get(scope) != shape
            self._by_scope[scope] = shape
            # Stored again when it changed, or before it expires; not after every report.
            store = self._shared is not None and (
                changed or time.monotonic() - self._stored > SHAPE_TTL / 2
            )
            if store:
                self._stored = time.monotonic()
                data = _dump(self._by_scope)
        if store and self._shared is not None:
            self._shared.store_shape(data, SHAPE_TTL)

    def recall(self, scope: str | None) -> tuple[Planned, ...]:
        """The calls to speculate with: the scope's own, else those of an all-platform report
        that concern this platform, else none (and then the fleet's shapes, when shared)."""
        calls = self._recall(scope)
        if calls or self._shared is None:
            return calls
        data = self._shared.load_shape()
        if data is None:
            return calls
        loaded = _load(data)
        # These calls carry account tokens this process may never have read itself.
        register(v for shape in loaded.values() for c in shape for n, v in c.params if n == "token")
        with self._lock:
            for known, shape in loaded.items():  # this process's own shapes stay
                self._by_scope.setdefault(known, shape)
        return self._recall(scope)

    def _recall(self, scope: str | None) -> tuple[Planned, ...]:
        with self._lock:
            calls = self._by_scope.get(scope)
            everything = self._by_scope.get(None)
        if calls is not None:
            return calls
        if scope is None or everything is None:
            return ()
        return tuple(
            c for c in everything if c.endpoint == "platforms" or ("platform", scope) in c.params
        )


def _dump(by_scope: dict[str | None, tuple[Planned, ...]]) -> bytes:
    """The shapes as JSON: ``[[scope, [[endpoint, [[name, value], ...], call], ...]], ...]``."""
    document = [
        [scope, [[c.endpoint, [list(p) for p in c.params], c.call] for c in calls]]
        for scope, calls in by_scope.items()
    ]
    return json.dumps(document, separators=(",", ":")).encode()


def _load(data: bytes) -> dict[str | None, tuple[Planned, ...]]:
    """Shapes read back from ``_dump``'s JSON; nothing at all when anything in it is amiss."""
    try:
        document: Any = json.loads(data)
        loaded: dict[str | None, tuple[Planned, ...]] = {}
        for scope, calls in document:
            if scope is not None and not isinstance(scope, str):
                return {}
            shape = []
            for endpoint, params, call in calls:
                pairs = tuple((name, value) for name, value in params)
                texts = [endpoint, call, *(part for pair in pairs for part in pair)]
                if endpoint not in ENDPOINTS or not all(isinstance(t, str) for t in texts):
                    return {}
                shape.append(Planned(endpoint, pairs, call))
            loaded[scope] = tuple(shape)
        return loaded
    except (ValueError, TypeError):  # not JSON, or not shaped like _dump's
        return {}
