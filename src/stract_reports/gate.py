"""The admission of report builds: shared among requests, and a cap on how many run at once;
and the arrival stamp it decides by.

The host (``http_server``) stamps each request with the monotonic time it was fully received,
under ``ARRIVED`` in its WSGI environ; ``request_arrival`` reads it. Neither Flask nor the host is
imported here: the app (``views``) and the host both stand on this module.

``BuildGate.get(key, arrived, build)`` answers a request that was fully received at
``arrived`` (monotonic seconds) with the result of ``build()`` for ``key`` — a report and its
options, never its output format: CSV, JSON and HTML of one report share one build.

- A build of ``key`` in flight is joined: every request waiting for it gets its result (or
  its error). Nothing is read twice for requests that overlap.
- A finished build is reused by a request that arrived before the build finished
  (``arrived <= finished``): either the build was in flight when the request arrived, which
  is what the request would have joined had a thread been free at once; or it started after
  the request arrived, so everything in it was read after the request. A request never gets
  data read before a build that had already finished when it arrived: reports stay read at
  request time. Finished builds are kept ``keep`` seconds for this (then let go by a timer:
  their memory must not wait for the next request), failed ones not at all; and not even that
  long when the memory budget needs the room (``drop_finished``).
- At most ``max_builds`` distinct builds run at once; a request that would start one more
  raises ``Overloaded`` (503 with Retry-After) at once instead of queueing. (What the builds
  hold in all is the memory budget's business: ``memory``.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from .errors import Overloaded

T = TypeVar("T")

ARRIVED = "stract.arrived"  # WSGI environ key: monotonic time the request was fully received


def request_arrival(environ: dict[str, Any]) -> float:
    """The monotonic time the request was fully received by the server; a host that does not
    stamp it (a test server) has it stamped now, at the first look, for the whole request."""
    arrived = environ.get(ARRIVED)
    if not isinstance(arrived, float):
        arrived = environ[ARRIVED] = time.monotonic()
    return arrived


@dataclass
class _Build(Generic[T]):
    started: float
    finished: float = float("inf")
    done: threading.Event = field(default_factory=threading.Event)
    result: T | None = None
    error: BaseException | None = None


class BuildGate:
    """Single-flight report builds, reused by requests that overlap them, ``max_builds`` at
    once; see the module's docstring for the rule."""

    def __init__(
        self,
        max_builds: int,
        keep: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_builds = max_builds
        self.keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[Hashable, _Build[Any]] = {}
        self._finished: dict[Hashable, _Build[Any]] = {}
        self._sweeper: threading.Timer | None = None

    def get(self, key: Hashable, arrived: float, build: Callable[[], T]) -> T:
        """``build()``'s result for ``key``, shared as the module says; raises what it raised,
        or ``Overloaded`` when ``max_builds`` other builds are running."""
        with self._lock:
            now = self._clock()
            expired = self._forget(now)
            running = self._running.get(key)
            if running is None:
                finished = self._finished.get(key)
                if finished is not None and arrived <= finished.finished:
                    return cast(T, finished.result)
                del finished  # not this request's: this frame must not keep its memory alive
                if len(self._running) >= self.max_builds:
                    raise Overloaded(
                        f"this server is building {len(self._running)} report(s), as many as "
                        "it builds at once; try again in a moment",
                        retry_after=1.0,
                    )
                mine: _Build[T] = _Build(started=now)
                self._running[key] = mine
        del expired  # outside the lock: what their sources held goes here
        if running is not None:
            running.done.wait()
            if running.error is not None:
                raise running.error
            return cast(T, running.result)
        try:
            mine.result = build()
        except BaseException as exc:
            mine.error = exc
            raise
        finally:
            with self._lock:
                mine.finished = self._clock()
                del self._running[key]
                if mine.error is None:
                    self._finished[key] = mine
                    self._sweep_later()
            mine.done.set()
        return cast(T, mine.result)

    def drop_finished(self) -> None:
        """Let go of every finished build kept for late requests (one that would have taken it
        reads afresh)."""
        with self._lock:
            dropped = list(self._finished.values())
            self._finished.clear()
        del dropped  # outside the lock: what their sources held goes here

    def _sweep_later(self) -> None:
        """Under the lock: a timer forgets the finished builds once ``keep`` is over."""
        if self._sweeper is None:
            self._sweeper = threading.Timer(self.keep + 0.05, self._sweep)
            self._sweeper.daemon = True
            self._sweeper.start()

    def _sweep(self) -> None:
        with self._lock:
            self._sweeper = None
            expired = self._forget(self._clock())
            if self._finished:
                self._sweep_later()
        del expired  # outside the lock

    def _forget(self, now: float) -> list[_Build[Any]]:
        """Under the lock: take out the finished builds kept long enough, to be let go of
        outside it."""
        expired = [k for k, b in self._finished.items() if b.finished < now - self.keep]
        return [self._finished.pop(key) for key in expired]
