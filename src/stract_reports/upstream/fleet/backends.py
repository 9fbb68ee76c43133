"""The two backends behind ``SharedBackend``: this process alone, or the fleet through Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ...config import Settings
from .budget import Bucket, SharedBudget
from .link import RedisLink
from .protocol import OFF, SharedBackend
from .reads import SharedReads
from .shapes import LocalShape, SharedShape


def open_backend(settings: Settings, **options: Any) -> SharedBackend:
    """The backend the settings ask for: Redis at ``shared_url``, or this process alone."""
    if settings.shared_url:
        return RedisBackend(settings, **options)
    return LocalBackend(settings)


class LocalBackend:
    """One process on its own: the semantics of ``RedisBackend`` without sharing anything."""

    def __init__(self, settings: Settings, *, burst: int = 1) -> None:
        self.bucket = Bucket(settings.upstream_rps, burst)
        self.shape = LocalShape()

    @property
    def state(self) -> str:
        """Always ``off``: nothing is shared."""
        return OFF

    def health(self) -> tuple[str, float | None]:
        """``off``, and no latency: there is no Redis."""
        return OFF, None

    def read_once(
        self,
        key: str,
        deadline: float,
        read: Callable[[], bytes],
        abandoned: threading.Event | None = None,
    ) -> bytes:
        """Call ``read()``: identical reads inside a process are joined by the client itself."""
        return read()

    def load_shape(self) -> bytes | None:
        """The shape this process stored, while it has not expired."""
        return self.shape.load()

    def store_shape(self, data: bytes, ttl: float) -> None:
        """Keep the shape in memory for ``ttl`` seconds."""
        self.shape.store(data, ttl)

    def acquire(self, deadline: float) -> None:
        """Wait for this process's own token bucket (and back-off)."""
        self.bucket.acquire(deadline)

    def back_off(self, seconds: float) -> None:
        """Hold this process's upstream calls for ``seconds``."""
        self.bucket.pause(seconds)

    def close(self) -> None:
        """Nothing to release."""


class RedisBackend:
    """Shared state in Redis (``link``: reads, budget, shape), with this process's
    ``LocalBackend`` whenever Redis is not there.

    The options suit production; the tests shorten them. ``lock_ttl``: how long a dead reader's
    lock outlives it. ``handover``: how long a body waits for the callers that joined its read.
    ``burst``: calls the rate budget grants back to back (1: evenly spaced, so no window sees
    more than the rate). ``poll_max``: the longest a waiter sleeps between two looks should a
    message be lost. Between two probes of an unreachable Redis: ``settings.shared_retry``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        lock_ttl: float = 2.0,
        handover: float = 5.0,
        socket_timeout: float = 1.0,
        connect_timeout: float = 0.5,
        burst: int = 1,
        poll_max: float = 0.2,
    ) -> None:
        self.local = LocalBackend(settings, burst=burst)
        self._link = RedisLink(
            settings,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
        )
        seal = self._link.seal
        # Without a seal (the public token) reads and the shape stay this process's own.
        self._reads = (
            SharedReads(
                self._link, seal, settings, lock_ttl=lock_ttl, handover=handover, poll_max=poll_max
            )
            if seal is not None
            else None
        )
        self._budget = SharedBudget(self._link, settings, self.local.bucket, burst=burst)
        self._shape = SharedShape(self._link, seal, self.local.shape) if seal is not None else None
        self._link.probe()

    @property
    def state(self) -> str:
        """``connected``, ``degraded`` or ``down`` (Redis slow or unreachable: this process's
        own behaviour)."""
        return self._link.state

    def health(self) -> tuple[str, float | None]:
        """The state after asking Redis now (once per retry period while it is down or slow),
        and the median latency of the last calls."""
        self._link.probe()
        return self._link.state, self._link.latency()

    def read_once(
        self,
        key: str,
        deadline: float,
        read: Callable[[], bytes],
        abandoned: threading.Event | None = None,
    ) -> bytes:
        """``read()``'s bytes, read by one process of the fleet (``SharedReads.read_once``)."""
        if self._reads is None:
            return read()
        return self._reads.read_once(key, deadline, read, abandoned)

    def load_shape(self) -> bytes | None:
        """The newest shape any process stored (this process's own copy while Redis is down)."""
        return self.local.load_shape() if self._shape is None else self._shape.load()

    def store_shape(self, data: bytes, ttl: float) -> None:
        """Share the shape for ``ttl`` seconds (and keep a copy in this process)."""
        if self._shape is None:
            self.local.store_shape(data, ttl)
        else:
            self._shape.store(data, ttl)

    def acquire(self, deadline: float) -> None:
        """Wait for the fleet's next free upstream slot (``BudgetTimeout`` if after deadline)."""
        self._budget.acquire(deadline)

    def back_off(self, seconds: float) -> None:
        """Hold every process's upstream calls for ``seconds`` (this one's too if Redis is down)."""
        self._budget.back_off(seconds)

    def close(self) -> None:
        """Stop the background threads and close every connection."""
        self._link.stopping.set()
        if self._reads is not None:
            self._reads.close()
        self._link.close()
