"""One process's connection to the fleet's Redis, and what it does without it.

Every operation goes through ``RedisLink.call(op, fallback)``: while Redis answers, ``op()``;
when it fails or is known to be down, ``fallback()`` at once, and Redis is probed again every
``settings.shared_retry`` seconds. A Redis that answers, but slowly, is treated the same way (a
breaker): when the median of the last calls (``LATENCY_SAMPLES``, at least ``SLOW_SAMPLES``) is
slower than ``SLOW_CALL`` the state is ``degraded``, and this process works on its own until a
probe answers in time. A median, not one call: a process busy computing delays some of its
threads' calls now and then, which says nothing of Redis. Each process logs one line
when Redis becomes unreachable or slow and one when it answers again, with its address but
never its password. ``latency()`` is the median of the last calls, for ``/readyz``.

The link also owns what every feature's keys derive from: the scope (scrypt, then HMAC, of the
upstream URL and the bearer token: deployments with different tokens share nothing, and no key
name reveals the token), the seal on shared values (``seal``: None with the public token), and
the Lua scripts, which are package data (``scripts/*.lua``). What Redis hands back that fails a
check is ignored and said once a minute (``refused``), never blamed on the upstream.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...config import Settings
from .protocol import CONNECTED, DEGRADED, DOWN
from .seal import Seal

# The fleet's log lines (Redis lost, Redis back) come from the package's logger.
log = logging.getLogger(__package__)

T = TypeVar("T")

NAMESPACE = "stract:v1:"
# A round trip slower than this is slow (loopback and a LAN answer in about a millisecond; a
# process busy computing can stretch one to tens).
SLOW_CALL = 0.05
LATENCY_SAMPLES = 16  # the last calls whose median is Redis's latency (and /readyz's)
SLOW_SAMPLES = 5  # calls measured since the state last changed before the breaker judges
REFUSED_LOG_EVERY = 60.0  # seconds between two lines about values that failed their checks


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
    """The Redis at ``settings.shared_url``, its state (``connected``, ``degraded`` or
    ``down``) and latency, the scope's key prefix and secret, the seal, and the scripts."""

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
        self.seal = Seal.for_token(settings.api_token, self.secret)
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
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._refused_logged: dict[str, float] = {}
        self.stopping = threading.Event()
        if self.seal is None:
            log.warning(
                "shared state at %s: the API token is the public one, so there is no secret to "
                "seal shared values with; upstream bodies and the warm shape are not shared "
                "(the rate budget is)",
                self._where,
            )

    @property
    def state(self) -> str:
        """``connected``, ``degraded`` (slow) or ``down`` (unreachable): in both of these,
        this process's own behaviour."""
        return self._state

    def latency(self) -> float | None:
        """The median seconds of the last calls to Redis (None before the first)."""
        with self._state_lock:
            samples = list(self._latencies)
        return statistics.median(samples) if samples else None

    def refused(self, what: str) -> None:
        """Say (at most once a minute per kind) that Redis handed back ``what`` failing its
        checks: it was ignored and this process did the work itself."""
        now = time.monotonic()
        with self._state_lock:
            last = self._refused_logged.get(what)
            if last is not None and now - last < REFUSED_LOG_EVERY:
                return
            self._refused_logged[what] = now
        log.warning(
            "shared state at %s held %s that fails its checks (not written by a server with "
            "this API token, out of bounds, or too old): ignored, this process did the work",
            self._where,
            what,
        )

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
        started = time.monotonic()
        try:
            result = op()
        except Exception as exc:  # whatever the cause, a report never fails for shared state
            self._went_down(exc)
            return fallback()
        self._answered(time.monotonic() - started)
        return result

    def close(self) -> None:
        """Stop using Redis (what is left runs on this process alone) and close connections."""
        self.stopping.set()
        self.redis.close()
        self.redis.connection_pool.disconnect()

    def _usable(self) -> bool:
        """Whether to try Redis now: always when connected, once per ``retry_every`` when down
        or degraded."""
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

    def _answered(self, seconds: float) -> None:
        """Redis answered in ``seconds``: the breaker's judgement, and the state it makes."""
        with self._state_lock:
            samples = self._latencies
            samples.append(seconds)
            before = self._state
            if before != CONNECTED:  # a probe, while down or degraded: this one call decides
                after = CONNECTED if seconds <= SLOW_CALL else DEGRADED
            elif len(samples) >= SLOW_SAMPLES and statistics.median(samples) > SLOW_CALL:
                after = DEGRADED
            else:
                after = CONNECTED
            if after == DEGRADED:
                self._next_probe = time.monotonic() + self.retry_every
            elif before != CONNECTED:  # back: the next judgement is made on new calls only
                samples.clear()
                samples.append(seconds)
            self._state = after
        if after == before:
            return
        if after == CONNECTED:
            log.warning(
                "shared state at %s answers again: processes share reads again", self._where
            )
        else:
            log.warning(
                "shared state at %s answers slowly (%.0f ms a call, more than %.0f ms): each "
                "process works on its own until it answers in time; trying every %gs",
                self._where,
                (self.latency() or seconds) * 1000,
                SLOW_CALL * 1000,
                self.retry_every,
            )
