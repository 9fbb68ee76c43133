"""The warm shape's store: an opaque blob (``upstream.shape`` writes and reads it) kept with a
TTL, in this process's memory (``LocalShape``) and, for a fleet, in Redis under ``shape``
(``SharedShape``), so that a freshly started process's first report is warm."""

from __future__ import annotations

import threading
import time
from typing import Any

from .link import RedisLink, nothing


class LocalShape:
    """The shape this process stored, until its TTL passes."""

    def __init__(self) -> None:
        self._shape: tuple[bytes, float] | None = None
        self._lock = threading.Lock()

    def load(self) -> bytes | None:
        """The shape this process stored, while it has not expired."""
        with self._lock:
            if self._shape is None or self._shape[1] <= time.monotonic():
                self._shape = None
                return None
            return self._shape[0]

    def store(self, data: bytes, ttl: float) -> None:
        """Keep the shape in memory for ``ttl`` seconds."""
        with self._lock:
            self._shape = (data, time.monotonic() + ttl)


class SharedShape:
    """The fleet's shape in Redis through ``link``, with ``local`` as this process's copy."""

    def __init__(self, link: RedisLink, local: LocalShape) -> None:
        self._link = link
        self._local = local
        self._key = link.prefix + "shape"

    def load(self) -> bytes | None:
        """The newest shape any process stored (this process's own copy while Redis is down)."""
        data: Any = self._link.call(lambda: self._link.redis.get(self._key), nothing)
        return bytes(data) if data is not None else self._local.load()

    def store(self, data: bytes, ttl: float) -> None:
        """Share the shape for ``ttl`` seconds (and keep a copy in this process)."""
        self._local.store(data, ttl)
        ms = max(1, round(ttl * 1000))
        self._link.call(lambda: self._link.redis.set(self._key, data, px=ms), nothing)
