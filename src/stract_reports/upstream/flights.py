"""Single-flight and the short cache: identical reads in flight are made once, and shared.

Each caller gets its own ``Handle``: it waits with its own deadline and may ``cancel`` without
stopping the read for the others. When the last caller leaves a read that has not finished, the
read is abandoned: dropped from the table (the next caller starts afresh), taken off the queue
if it had not started, and its socket shut down if it had.

The table only keeps the reads; whoever joins a new one starts it (``StractClient._start``) and
ends it with ``Flight.succeed`` or ``Flight.fail``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import InvalidStateError as _InvalidState
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

from ..errors import UpstreamUnavailable
from .transport import Exchange

# (endpoint, sorted query parameters)
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(eq=False)
class Flight:
    """One read of the upstream, shared by every caller that asked for the same thing."""

    key: Key
    params: dict[str, str]  # the query, in the first caller's order
    call: str  # the first caller's words for it, for errors
    deadline: float  # the latest deadline of the callers: the read may run until then
    result: Future = field(default_factory=Future)
    waiters: int = 0
    finished: float | None = None  # monotonic time it succeeded, for the cache
    abandoned: threading.Event = field(default_factory=threading.Event)
    task: Future | None = None  # the queued work, cancelled if it has not started
    exchange: Exchange | None = None  # the attempt in progress, cut when abandoned
    UNREAD: ClassVar[object] = object()
    payload: Any = UNREAD  # the decoded body, when this process read it
    float_literals: bool = False  # decoded with ``decode_json``'s float_literals

    def abandon(self) -> None:
        """Stop the read: off the queue if queued, its socket shut down if reading."""
        self.withdraw()
        exchange = self.exchange
        if exchange is not None:
            exchange.cut("abandoned")
        self.result.cancel()

    def withdraw(self) -> None:
        """Mark the read abandoned and take it off the queue, without touching its socket."""
        self.abandoned.set()
        if self.task is not None:
            self.task.cancel()

    def succeed(self, payload: Any) -> None:
        """The read's result, for every caller waiting (none if it was abandoned meanwhile)."""
        with suppress(_InvalidState):  # abandoned: nobody listens
            self.result.set_result(payload)

    def fail(self, error: BaseException) -> None:
        """The read's error, for every caller waiting (none if it was abandoned meanwhile)."""
        with suppress(_InvalidState):
            self.result.set_exception(error)


class Handle:
    """One caller's share of a read: its result when done, or ``cancel()`` to stop waiting."""

    __slots__ = ("_flight", "_table", "_cancelled", "__weakref__")

    def __init__(self, flight: Flight, table: Flights) -> None:
        self._flight = flight
        self._table = table
        self._cancelled = False

    @property
    def call(self) -> str:
        """The read, in words."""
        return self._flight.call

    def done(self) -> bool:
        """Whether the read has finished (or was abandoned)."""
        return self._flight.result.done()

    def result(self) -> Any:
        """The decoded body; raises the read's ``UpstreamError``. Only once ``done()``."""
        try:
            return self._flight.result.result(timeout=0)
        except CancelledError:
            raise UpstreamUnavailable(self._flight.call, "the read was abandoned") from None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the read to finish; whether it has."""
        try:
            self._flight.result.exception(timeout=max(0.0, timeout))
        except TimeoutError:
            return False
        except CancelledError:
            pass
        return True

    def add_done_callback(self, fn: Callable[[Handle], None]) -> None:
        """Call ``fn(self)`` when the read finishes (at once if it has), if this handle is still
        held then. The read's future keeps only a weak reference to it: a strong one would be a
        cycle (handle, flight, future, callback) that keeps the decoded body until a full
        collection, and a report pauses the collector while it reads."""
        handle = weakref.ref(self)
        self._flight.result.add_done_callback(partial(_call_back, handle, fn))

    def cancel(self) -> None:
        """Stop waiting; the read is abandoned if nobody else waits for it."""
        if not self._cancelled:
            self._cancelled = True
            self._table.leave(self._flight)


def _call_back(handle: weakref.ref[Handle], fn: Callable[[Handle], None], _: Future) -> None:
    held = handle()
    if held is not None:
        fn(held)


class Flights:
    """The reads in flight (and, with a TTL, recently finished), by key."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._table: dict[Key, Flight] = {}
        self._closed = False

    def join(
        self,
        endpoint: str,
        params: dict[str, str],
        call: str,
        deadline: float,
        *,
        float_literals: bool = False,
    ) -> tuple[Handle, Flight | None]:
        """A handle on the read of ``endpoint?params``: a shared one in flight or cached, else a
        new one (decoded with ``float_literals``); and the new flight, which the caller starts
        (None when it joined one)."""
        key = (endpoint, tuple(sorted(params.items())))
        now = time.monotonic()
        with self._lock:
            flight = self._table.get(key)
            if flight is not None and flight.finished is not None:
                if now - flight.finished < self._ttl:
                    return Handle(flight, self), None
                flight = None
            if flight is None:
                if self._closed:
                    raise UpstreamUnavailable(call, "the upstream client is closed")
                flight = Flight(key, params, call, deadline, float_literals=float_literals)
                self._table[key] = flight
                fresh = True
            else:
                flight.deadline = max(flight.deadline, deadline)
                fresh = False
            flight.waiters += 1
        if not fresh:
            return Handle(flight, self), None
        # By key, not by flight: the future must not hold its flight (see add_done_callback).
        flight.result.add_done_callback(partial(self._finished, key))
        return Handle(flight, self), flight

    def leave(self, flight: Flight) -> None:
        """A caller stopped waiting; abandon the read if it was the last one."""
        with self._lock:
            flight.waiters -= 1
            if flight.waiters > 0 or flight.result.done():
                return
            if self._table.get(flight.key) is flight:
                del self._table[flight.key]
        flight.abandon()

    def abandon_all(self) -> None:
        """Abandon every read (the client is closing); later joins fail at once."""
        with self._lock:
            self._closed = True
            flights, self._table = list(self._table.values()), {}
        # Everything off the queue first: a thread freed by a cut must find nothing to start.
        for flight in flights:
            flight.withdraw()
        for flight in flights:
            flight.abandon()

    def __len__(self) -> int:
        with self._lock:
            return len(self._table)

    def _finished(self, key: Key, future: Future) -> None:
        with self._lock:
            flight = self._table.get(key)
            if flight is None or flight.result is not future:
                return
            failed = flight.result.cancelled() or flight.result.exception() is not None
            if self._ttl and not failed:
                flight.finished = time.monotonic()
            else:
                del self._table[flight.key]
