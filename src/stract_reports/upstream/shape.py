"""The shape of the last good report: which upstream calls it made, to speculate with next time.

A report's calls follow from a shape that rarely changes (the platform list, page counts,
accounts with their tokens, field keys). Remembering the calls themselves captures all of it:
the next report issues them at once, before the lists that justify them arrive, and then makes
exactly the calls a cold read makes, adopting a speculative one whenever it is the same request
(same endpoint, same parameters: same page, token and field list). Speculation is therefore
validated by construction: an adopted result is the answer to the very request a cold read
sends, made during this report; a speculative call nobody adopts (its assumption went stale)
is dropped and its failure never counts. The extra calls are at most the stale ones.

Memory only, never on disk: the calls carry account tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


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
    """The calls of the last successful report per scope (a platform, or None for all)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_scope: dict[str | None, tuple[Planned, ...]] = {}

    def remember(self, scope: str | None, calls: list[Planned]) -> None:
        """Keep the calls of a report that succeeded (replacing the scope's previous ones)."""
        with self._lock:
            self._by_scope[scope] = tuple(calls)

    def recall(self, scope: str | None) -> tuple[Planned, ...]:
        """The calls to speculate with: the scope's own, else those of an all-platform report
        that concern this platform, else none."""
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

    def forget(self) -> None:
        """Drop every remembered shape."""
        with self._lock:
            self._by_scope.clear()
