"""What the upstream client asks of shared state, with or without Redis: the interface, its
errors, its states, and the one identity of a read across processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

CONNECTED, DEGRADED, DOWN, OFF = "connected", "degraded", "down", "off"


class SharedError(Exception):
    """Shared state could not give what was asked in time."""


class SharedTimeout(SharedError, TimeoutError):
    """The caller's deadline passed while another process was reading for it."""


class BudgetTimeout(SharedTimeout):
    """The rate budget grants no upstream call before the caller's deadline."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the upstream rate budget has no call free for {retry_after:.2f}s")
        self.retry_after = retry_after


class SharedBackend(Protocol):
    """The interface the upstream client uses, with or without Redis."""

    @property
    def state(self) -> str:
        """``connected``, ``degraded`` (Redis slow), ``down`` (Redis unreachable) or ``off``;
        degraded and down work as off does, in-process."""
        ...

    def health(self) -> tuple[str, float | None]:
        """The state after asking Redis now (at most once per retry period when it is down
        or slow), and its recent latency in seconds (None without Redis)."""
        ...

    def read_once(
        self,
        key: str,
        deadline: float,
        read: Callable[[], bytes],
        abandoned: threading.Event | None = None,
    ) -> bytes:
        """``read()``'s bytes, read by one process of the fleet for every identical caller."""
        ...

    def load_shape(self) -> bytes | None:
        """The newest warm shape any process stored, or None."""
        ...

    def store_shape(self, data: bytes, ttl: float) -> None:
        """Remember the warm shape for ``ttl`` seconds."""
        ...

    def acquire(self, deadline: float) -> None:
        """Wait for the rate budget to grant one upstream call (else ``BudgetTimeout``)."""
        ...

    def back_off(self, seconds: float) -> None:
        """Hold every upstream call for ``seconds`` (a 429's ``Retry-After``)."""
        ...

    def close(self) -> None:
        """Stop background threads and close connections."""
        ...


def read_key(endpoint: str, params: Mapping[str, str]) -> str:
    """The identity of one upstream read, the same in every process: endpoint and sorted params."""
    return json.dumps([endpoint, sorted(params.items())], separators=(",", ":"))
