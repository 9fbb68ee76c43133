"""The shape of the last good report: which upstream calls it made, to speculate with next time.

A report's calls follow from a shape that rarely changes (the platform list, page counts,
accounts with their tokens, field keys). Remembering the calls themselves captures all of it:
the next report issues them ahead of the lists that justify them (a window at a time), and makes
exactly the calls a cold read makes, adopting a speculative one whenever it is the same request
(same endpoint, same parameters: same page, token and field list). Speculation is therefore
validated by construction: an adopted result is the answer to the very request a cold read
sends, made during this report; a speculative call nobody adopts (its assumption went stale)
is dropped and its failure never counts. The extra calls are the stale ones, a window at most.

Never on disk: the calls carry account tokens. In memory; and, when the server processes share
a Redis, there too (as JSON, sealed, for ``SHAPE_TTL`` seconds) so that a fresh process's first
report is warm: a process with no shape for a report loads the fleet's (at most once every
``LOAD_EVERY`` seconds), and each process stores its shapes after a report that succeeded. The
bearer token is never part of a call.

A shape is a hint, never a command: the report issues its calls a window at a time and stops at
the first sign it changed (``fetch``). What is kept is bounded: ``MAX_CALLS`` calls per report,
``MAX_SCOPES`` reports, and a shape read back is refused whole unless every call is one a report
makes (``PARAMS``: its endpoint and parameters), every text within ``MAX_TEXT`` characters and
the whole within ``MAX_BYTES``.
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
# Seconds between two loads of the fleet's shapes by a process that has none for a report.
LOAD_EVERY = 10.0
# Only these calls are ever issued from a shape read back: each endpoint with the parameters a
# report sends it.
PARAMS = {
    "platforms": frozenset({"page"}),
    "fields": frozenset({"platform", "page"}),
    "accounts": frozenset({"platform", "page"}),
    "insights": frozenset({"platform", "account", "token", "fields", "page"}),
}
MAX_CALLS = 50_000  # calls kept per report (scope); the first ones, in the order made
MAX_SCOPES = 1_000  # reports (all platforms, or one) kept
MAX_TEXT = 16_384  # characters of a parameter, a call's words or a scope read back
MAX_BYTES = 32 * 1024 * 1024  # of a shape read back, as JSON


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
        self._loaded = -LOAD_EVERY  # monotonic time this process last loaded the fleet's

    def remember(self, scope: str | None, calls: list[Planned]) -> None:
        """Keep the calls of a report that succeeded (replacing the scope's previous ones),
        the first ``MAX_CALLS`` of them."""
        shape = tuple(calls[:MAX_CALLS])
        with self._lock:
            if scope not in self._by_scope and len(self._by_scope) >= MAX_SCOPES:
                return
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
        with self._lock:
            if time.monotonic() - self._loaded < LOAD_EVERY:
                return calls
            self._loaded = time.monotonic()
        data = self._shared.load_shape()
        if data is None:
            return calls
        loaded = _load(data)
        # These calls carry account tokens this process may never have read itself.
        register(v for shape in loaded.values() for c in shape for n, v in c.params if n == "token")
        with self._lock:
            for known, shape in loaded.items():  # this process's own shapes stay
                if known in self._by_scope or len(self._by_scope) < MAX_SCOPES:
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
    """Shapes read back from ``_dump``'s JSON, or nothing at all when anything in it is amiss:
    not JSON, too large, or a call no report makes."""
    if len(data) > MAX_BYTES:
        return {}
    try:
        document: Any = json.loads(data)
        if not isinstance(document, list) or len(document) > MAX_SCOPES:
            return {}
        loaded: dict[str | None, tuple[Planned, ...]] = {}
        for scope, calls in document:
            if not (scope is None or _text(scope)) or len(calls) > MAX_CALLS:
                return {}
            shape = []
            for endpoint, params, call in calls:
                pairs = tuple((name, value) for name, value in params)
                if not _call(endpoint, pairs, call):
                    return {}
                shape.append(Planned(endpoint, pairs, call))
            loaded[scope] = tuple(shape)
        return loaded
    except (ValueError, TypeError):  # not JSON, or not shaped like _dump's
        return {}


def _call(endpoint: object, pairs: tuple[tuple[Any, Any], ...], call: object) -> bool:
    """Whether this is a call a report makes: a known endpoint with its own parameters, each
    once, texts within bounds, a page number in digits."""
    allowed = PARAMS.get(endpoint) if isinstance(endpoint, str) else None
    if allowed is None or not _text(call):
        return False
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names) or not set(names) <= allowed:
        return False
    if not all(_text(value) for _, value in pairs):
        return False
    page = dict(pairs).get("page")
    return page is None or (page.isascii() and page.isdigit() and len(page) <= 9)


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT
