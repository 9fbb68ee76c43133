"""The warm shape's store: an opaque blob (``upstream.shape`` writes and reads it) kept with a
TTL, in this process's memory (``LocalShape``) and, for a fleet, in Redis under ``shape``
(``SharedShape``), so that a freshly started process's first report is warm. In Redis it is
sealed (``seal``): a shape no server with this API token wrote is ignored."""

from __future__ import annotations

import threading
import time
from typing import Any

from .link import RedisLink, nothing
from .seal import Seal

SHAPE = "shape"  # the key's last part, and the name the shape is sealed under


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
    """The fleet's shape in Redis through ``link``, sealed with ``seal``, with ``local`` as
    this process's copy."""

    def __init__(self, link: RedisLink, seal: Seal, local: LocalShape) -> None:
        self._link = link
        self._seal = seal
        self._local = local
        self._key = link.prefix + SHAPE

    def load(self) -> bytes | None:
        """The newest shape any process stored (this process's own copy while Redis is down,
        or when what Redis holds fails its seal)."""
        data: Any = self._link.call(lambda: self._link.redis.get(self._key), nothing)
        if data is None:
            return self._local.load()
        opened = self._seal.open(SHAPE, bytes(data))
        if opened is None:
            self._link.refused("a warm shape")
            return self._local.load()
        return opened

    def store(self, data: bytes, ttl: float) -> None:
        """Share the shape for ``ttl`` seconds (and keep a copy in this process)."""
        self._local.store(data, ttl)
        sealed = self._seal.close(SHAPE, data, ttl)
        ms = max(1, round(ttl * 1000))
        self._link.call(lambda: self._link.redis.set(self._key, sealed, px=ms), nothing)
