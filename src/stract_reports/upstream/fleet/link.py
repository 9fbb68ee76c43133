"""One process's connection to the fleet's Redis, and what it does without it.

Every operation goes through ``RedisLink.call(op, fallback)``: while Redis answers, ``op()``;
when it fails or is known to be down, ``fallback()`` at once, and Redis is probed again every
``settings.shared_retry`` seconds. Each process logs one line when Redis becomes unreachable
and one when it answers again, with its address but never its password.

The link also owns what every feature's keys derive from: the scope (scrypt, then HMAC, of the
upstream URL and the bearer token: deployments with different tokens share nothing, and no key
name reveals the token) and the Lua scripts, which are package data (``scripts/*.lua``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...config import Settings
from .protocol import CONNECTED, DOWN

# The fleet's log lines (Redis lost, Redis back) come from the package's logger.
log = logging.getLogger(__package__)

T = TypeVar("T")

NAMESPACE = "stract:v1:"


def nothing() -> Any:
    """The fallback of an operation whose failure changes nothing for the caller."""
    return None


def _scope_secret(settings: Settings) -> bytes:
    """A key for this upstream and bearer token that Redis never sees: scrypt makes guessing
    the token from key names expensive (about 50 ms per guess)."""
    return hashlib.scrypt(
        settings.api_token.encode(), salt=settings.api_url.encode(), n=2**14, r=8, p=1, dklen=32
    )


def _where(url: str) -> str:
    """The Redis location for log lines: host, port and database, never a password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class RedisLink:
    """The Redis at ``settings.shared_url``, its state (``connected`` or ``down``), the scope's
    key prefix and secret, and the registered scripts."""

    def __init__(
        self,
        settings: Settings,
        *,
        socket_timeout: float,
        connect_timeout: float,
    ) -> None:
        self.retry_every = settings.shared_retry
        self._where = _where(settings.shared_url)

        # Imported here: the client costs 100 ms of start-up that a single process never needs.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.secret = _scope_secret(settings)
        scope = hmac.new(self.secret, b"scope", hashlib.sha256).hexdigest()[:16]
        self.prefix = f"{NAMESPACE}{scope}:"
        # No client-side retries: a failure falls back at once and the next probe reconnects.
        self.redis = redis.Redis.from_url(
            settings.shared_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._state_lock = threading.Lock()
        self._state = CONNECTED
        self._next_probe = 0.0
        self.stopping = threading.Event()

    @property
    def state(self) -> str:
        """``connected`` or ``down`` (Redis unreachable: this process's own behaviour)."""
        return self._state

    def script(self, name: str) -> Any:
        """The Lua script ``scripts/{name}.lua``, registered: call it with ``keys`` and ``args``."""
        source = resources.files(__package__).joinpath("scripts", f"{name}.lua").read_text()
        return self.redis.register_script(source)

    def probe(self) -> None:
        """Ask Redis once now: the state and the log say whether it answers."""
        self.call(lambda: self.redis.ping(), nothing)

    def call(self, op: Callable[[], T], fallback: Callable[[], T]) -> T:
        """``op()`` against Redis, or ``fallback()`` at once when Redis is down or fails now."""
        if not self._usable():
            return fallback()
        try:
            result = op()
        except Exception as exc:  # whatever the cause, a report never fails for shared state
            self._went_down(exc)
            return fallback()
        self._came_back()
        return result

    def close(self) -> None:
        """Stop using Redis (what is left runs on this process alone) and close connections."""
        self.stopping.set()
        self.redis.close()
        self.redis.connection_pool.disconnect()

    def _usable(self) -> bool:
        """Whether to try Redis now: always when connected, once per ``retry_every`` when down."""
        if self.stopping.is_set():  # closed: what is left runs on this process alone
            return False
        with self._state_lock:
            if self._state == CONNECTED:
                return True
            now = time.monotonic()
            if now < self._next_probe:
                return False
            self._next_probe = now + self.retry_every
            return True

    def _went_down(self, exc: BaseException) -> None:
        if self.stopping.is_set():  # a call cut short by close(): Redis itself is fine
            return
        with self._state_lock:
            self._next_probe = time.monotonic() + self.retry_every
            if self._state == DOWN:
                return
            self._state = DOWN
        # Idle connections made before an outage are dead; the next probe opens fresh ones.
        # Connections in use stay with their threads, which see their own error.
        self.redis.connection_pool.disconnect(inuse_connections=False)
        log.warning(
            "shared state at %s is unreachable (%s): each process works on its own until it "
            "answers; retrying every %gs",
            self._where,
            type(exc).__name__,
            self.retry_every,
        )

    def _came_back(self) -> None:
        with self._state_lock:
            if self._state == CONNECTED:
                return
            self._state = CONNECTED
        log.warning("shared state at %s answers again: processes share reads again", self._where)
