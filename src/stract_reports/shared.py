"""What every server process and host shares: in-flight upstream reads, the warm shape and the
upstream's rate budget — through Redis when ``STRACT_SHARED_URL`` is set, in memory otherwise.

    open_backend(settings) -> SharedBackend        one per process, closed with the app
        ├── LocalBackend    no Redis: ``read()`` is called directly, the shape lives in this
        │                   process's memory, the rate budget is a token bucket of its own
        └── RedisBackend    the fleet: one process reads, the others wait for its bytes; the
                            shape and the budget live in Redis. While Redis is unreachable
                            every method answers at once from its LocalBackend.

    SharedError                        also: the caller gave up waiting (``abandoned``)
    └── SharedTimeout (TimeoutError)   waited for another process's read until our deadline
        └── BudgetTimeout              the rate budget grants no call before our deadline

What Redis holds, every key under ``stract:v1:<scope>:`` and every key expiring on its own.
``<scope>`` is derived (scrypt, then HMAC) from the upstream URL and the bearer token, so two
deployments with different tokens never share anything, and no key name reveals the token;
a read's key is an HMAC of its endpoint and parameters, never the parameters themselves.

    read:{H}:lock      the reading process's random id; ``lock_ttl`` ms, renewed while it reads
    read:{H}:join:ID   "someone waits for read ID"; ``handover`` s (+ ``cache_ttl``)
    read:{H}:res:ID    the raw body of read ID, written only when someone waits for it or
                       ``cache_ttl`` > 0; ``handover`` s (+ ``cache_ttl`` when set)
    read:{H}:last      ID of the newest body, only when ``cache_ttl`` > 0; ``cache_ttl`` s
    shape              the client's opaque warm shape; the TTL its caller gives
    {budget}:tat       the rate budget's next free slot (µs); a second beyond it
    {budget}:pause     a shared back-off after a 429 (µs); until it ends

Risk: the shape holds per-account tokens (they are part of every insights call) and the bodies
hold ad-spend data. Anyone who can read this Redis can read them. Point ``STRACT_SHARED_URL``
only at a Redis reachable from the report servers alone, with a password (``redis://:PASSWORD@``)
or TLS (``rediss://``). The bearer token is never stored; the shape is kept minimal by its
caller and expires.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from .config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMESPACE = "stract:v1:"
# With no rate limit, how long a process trusts that the fleet has no back-off in force.
PAUSE_LOOK = 0.1
CONNECTED, DOWN, OFF = "connected", "down", "off"


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
        """``connected``, ``down`` (Redis unreachable: in-process behaviour) or ``off``."""
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


def open_backend(settings: Settings, **options: Any) -> SharedBackend:
    """The backend the settings ask for: Redis at ``shared_url``, or this process alone."""
    if settings.shared_url:
        return RedisBackend(settings, **options)
    return LocalBackend(settings)


class _Bucket:
    """A rate budget as GCRA: each call reserves the next free slot, ``1/rate`` apart."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.slack = (burst - 1) * self.interval
        self._next = 0.0  # monotonic time of the next free slot
        self._pause = 0.0  # monotonic time a back-off ends
        self._lock = threading.Lock()

    def reserve(self, deadline: float) -> float:
        """Seconds to wait for a granted slot; ``BudgetTimeout`` when it falls after deadline."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._pause, self._next - self.slack)
            if slot > deadline:
                raise BudgetTimeout(slot - now)
            if self.interval:
                self._next = max(self._next, slot) + self.interval
            return slot - now

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now."""
        with self._lock:
            self._pause = max(self._pause, time.monotonic() + seconds)


class LocalBackend:
    """One process on its own: the semantics of ``RedisBackend`` without sharing anything."""

    def __init__(self, settings: Settings, *, burst: int = 1) -> None:
        self._bucket = _Bucket(settings.upstream_rps, burst)
        self._shape: tuple[bytes, float] | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """Always ``off``: nothing is shared."""
        return OFF

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
        with self._lock:
            if self._shape is None or self._shape[1] <= time.monotonic():
                self._shape = None
                return None
            return self._shape[0]

    def store_shape(self, data: bytes, ttl: float) -> None:
        """Keep the shape in memory for ``ttl`` seconds."""
        with self._lock:
            self._shape = (data, time.monotonic() + ttl)

    def acquire(self, deadline: float) -> None:
        """Wait for this process's own token bucket (and back-off)."""
        wait = self._bucket.reserve(deadline)
        if wait > 0:
            time.sleep(wait)

    def back_off(self, seconds: float) -> None:
        """Hold this process's upstream calls for ``seconds``."""
        if seconds > 0:
            self._bucket.pause(seconds)

    def close(self) -> None:
        """Nothing to release."""


# Each script runs atomically in Redis. Keys other than KEYS[] (the per-read results) share the
# read's hash tag {H}, so a script touches a single cluster slot.
_CLAIM = """
if ARGV[2] ~= '' then
  local body = redis.call('GET', ARGV[1] .. 'res:' .. ARGV[2])
  if body then return {'done', body} end
end
local holder = redis.call('GET', KEYS[1])
if holder then
  redis.call('SET', ARGV[1] .. 'join:' .. holder, '1', 'PX', ARGV[6])
  return {'wait', holder}
end
if ARGV[5] == '1' then
  local last = redis.call('GET', KEYS[2])
  if last then
    local body = redis.call('GET', ARGV[1] .. 'res:' .. last)
    if body then return {'done', body} end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return {'read', ARGV[3]}
"""
# KEYS: lock, last. ARGV: the read's key prefix, id joined (or ''), our id, lock ms, reuse
# finished bodies ('1'/'0'), result ms. A waiter marks the read it joins, so a body nobody
# waits for (and that no cache wants) is never written.

_FINISH = """
local joined = redis.call('DEL', ARGV[1] .. 'join:' .. ARGV[2]) == 1
if joined or ARGV[5] ~= '0' then
  redis.call('SET', ARGV[1] .. 'res:' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
end
if ARGV[5] ~= '0' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5]) end
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('DEL', KEYS[1]) end
if joined then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return 1
"""
# KEYS: lock, last. ARGV: the read's key prefix, our id, body, result ms, cache ms, channel,
# message.

_ABANDON = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
# KEYS: lock. ARGV: our id, channel, message.

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lock. ARGV: our id, lock ms.

# Times are Redis's own clock in µs, so every host reserves against one clock. Lua numbers are
# doubles (exact to 2^53 µs); they are written with %.0f because tostring would round them.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
if interval > 0 then slot = math.max(slot, tat - tonumber(ARGV[2])) end
local wait = slot - now
if wait > tonumber(ARGV[3]) then return {0, wait} end
if interval > 0 then
  local after = math.max(tat, slot) + interval
  redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX',
             math.ceil((after - now) / 1000) + 1000)
end
return {1, wait}
"""
# KEYS: next slot, pause. ARGV: interval µs (0: no rate), burst slack µs, longest wait µs.

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ends = now + tonumber(ARGV[1])
if ends > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', ends), 'PX', math.ceil(ARGV[1] / 1000))
end
return 1
"""
# KEYS: pause. ARGV: back-off µs.

_Arg = str | int | bytes


def _nothing() -> Any:
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


class RedisBackend:
    """Shared state in Redis, with this process's ``LocalBackend`` whenever Redis is not there.

    The options suit production; the tests shorten them. ``lock_ttl``: how long a dead reader's
    lock outlives it. ``handover``: how long a body waits for the callers that joined its read.
    ``retry_every``: seconds between two probes while Redis is down. ``burst``: calls the rate
    budget grants back to back (1: evenly spaced, so no window sees more than the rate).
    ``poll_max``: the longest a waiter sleeps between two looks should a message be lost.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        lock_ttl: float = 2.0,
        handover: float = 5.0,
        retry_every: float = 3.0,
        socket_timeout: float = 1.0,
        connect_timeout: float = 0.5,
        burst: int = 1,
        poll_max: float = 0.2,
    ) -> None:
        self.settings = settings
        self.local = LocalBackend(settings, burst=burst)
        self._lock_ms = max(1, round(lock_ttl * 1000))
        self._result_ms = max(1, round((handover + settings.cache_ttl) * 1000))
        self._cache_ms = round(settings.cache_ttl * 1000)
        self._retry_every = retry_every
        self._poll_max = poll_max
        interval = 1.0 / settings.upstream_rps if settings.upstream_rps > 0 else 0.0
        self._interval_us = round(interval * 1e6)
        self._slack_us = round((burst - 1) * interval * 1e6)
        self._where = _where(settings.shared_url)

        # Imported here: the client costs 100 ms of start-up that a single process never needs.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._secret = _scope_secret(settings)
        scope = hmac.new(self._secret, b"scope", hashlib.sha256).hexdigest()[:16]
        self._prefix = f"{NAMESPACE}{scope}:"
        self._channel = f"{self._prefix}done"
        self._budget_keys = [f"{self._prefix}{{budget}}:tat", f"{self._prefix}{{budget}}:pause"]
        # Without a rate, the budget is only the fleet's back-off: looked up at most once per
        # PAUSE_LOOK seconds rather than before every call (a round trip costs ~0.1 ms of CPU).
        self._no_pause_until = 0.0

        # No client-side retries: a failure falls back at once and the next probe reconnects.
        self._redis = redis.Redis.from_url(
            settings.shared_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._claim = self._redis.register_script(_CLAIM)
        self._finish = self._redis.register_script(_FINISH)
        self._abandon = self._redis.register_script(_ABANDON)
        self._renew = self._redis.register_script(_RENEW)
        self._reserve = self._redis.register_script(_RESERVE)
        self._pause = self._redis.register_script(_PAUSE)

        self._state_lock = threading.Lock()
        self._state = CONNECTED
        self._next_probe = 0.0
        self._stopping = threading.Event()
        # Locks this process holds: lock key -> (our id, monotonic time to stop renewing).
        self._held: dict[str, tuple[str, float]] = {}
        # Callers waiting on another process's read: hashed key -> their wake-up events.
        self._waiting: dict[str, set[threading.Event]] = {}
        self._threads_lock = threading.Lock()
        self._threads_pid = 0
        self._pubsub: Any = None
        self._call(lambda: self._redis.ping(), _nothing)

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``connected`` or ``down`` (Redis unreachable: this process's own behaviour)."""
        return self._state

    def _usable(self) -> bool:
        """Whether to try Redis now: always when connected, once per ``retry_every`` when down."""
        if self._stopping.is_set():  # closed: what is left runs on this process alone
            return False
        with self._state_lock:
            if self._state == CONNECTED:
                return True
            now = time.monotonic()
            if now < self._next_probe:
                return False
            self._next_probe = now + self._retry_every
            return True

    def _went_down(self, exc: BaseException) -> None:
        if self._stopping.is_set():  # a call cut short by close(): Redis itself is fine
            return
        with self._state_lock:
            self._next_probe = time.monotonic() + self._retry_every
            if self._state == DOWN:
                return
            self._state = DOWN
        # Idle connections made before an outage are dead; the next probe opens fresh ones.
        # Connections in use stay with their threads, which see their own error.
        self._redis.connection_pool.disconnect(inuse_connections=False)
        log.warning(
            "shared state at %s is unreachable (%s): each process works on its own until it "
            "answers; retrying every %gs",
            self._where,
            type(exc).__name__,
            self._retry_every,
        )

    def _came_back(self) -> None:
        with self._state_lock:
            if self._state == CONNECTED:
                return
            self._state = CONNECTED
        log.warning("shared state at %s answers again: processes share reads again", self._where)

    def _call(self, op: Callable[[], T], fallback: Callable[[], T]) -> T:
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

    # -- single-flight ---------------------------------------------------------------------

    def _keys(self, key: str) -> tuple[str, str, str, str]:
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]
        base = f"{self._prefix}read:{{{digest}}}:"
        return digest, base, base + "lock", base + "last"

    def read_once(
        self,
        key: str,
        deadline: float,
        read: Callable[[], bytes],
        abandoned: threading.Event | None = None,
    ) -> bytes:
        """``read()``'s bytes, read by one process of the fleet for every identical caller.

        ``key`` names the read (``read_key(endpoint, params)``); ``deadline`` is this caller's
        ``time.monotonic()`` limit for waiting on another process (``SharedTimeout``); ``read``
        must return only a good body and raise otherwise — a failed read is not shared: a
        waiter then reads itself. Once ``abandoned`` is set, a waiter stops waiting within
        ``poll_max`` (``SharedError``). Redis down: ``read()`` at once.
        """
        digest, base, lock_key, last_key = self._keys(key)
        me = secrets.token_hex(8)
        reuse = "1" if self._cache_ms else "0"

        def claim(joined: str) -> Any:
            args: list[_Arg] = [base, joined, me, self._lock_ms, reuse, self._result_ms]
            return self._claim(keys=[lock_key, last_key], args=args)

        wake = threading.Event()
        joined = ""
        pause = 0.005
        self._ensure_threads()
        with self._threads_lock:
            self._waiting.setdefault(digest, set()).add(wake)
        try:
            while True:
                answer = self._call(partial(claim, joined), _nothing)
                if answer is None:  # Redis is down: this process reads for itself
                    return read()
                verdict, value = answer[0], answer[1]
                if verdict == b"done":
                    return bytes(value)
                if verdict == b"read":
                    break
                joined = value.decode()
                if abandoned is not None and abandoned.is_set():
                    raise SharedError("nobody waits for this read any more")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SharedTimeout("the report deadline passed while another process read")
                # Woken by the reader's publish; the timeout is a poll in case a message is lost.
                wake.wait(min(pause, remaining))
                wake.clear()
                pause = min(pause * 2, self._poll_max)
        finally:
            with self._threads_lock:
                waiters = self._waiting.get(digest)
                if waiters is not None:
                    waiters.discard(wake)
                    if not waiters:
                        del self._waiting[digest]
        with self._threads_lock:
            self._held[lock_key] = (me, deadline + 1.0)
        try:
            body = read()
        except BaseException:
            with self._threads_lock:
                self._held.pop(lock_key, None)
            abandon: list[_Arg] = [me, self._channel, digest]
            self._call(lambda: self._abandon(keys=[lock_key], args=abandon), _nothing)
            raise
        with self._threads_lock:
            self._held.pop(lock_key, None)
        finish: list[_Arg] = [base, me, body, self._result_ms, self._cache_ms]
        finish += [self._channel, digest]
        self._call(lambda: self._finish(keys=[lock_key, last_key], args=finish), _nothing)
        return body

    def _ensure_threads(self) -> None:
        """Start the renewer and the listener in this process (again after a fork)."""
        with self._threads_lock:
            if self._threads_pid == os.getpid():
                return
            self._threads_pid = os.getpid()
        for target, name in ((self._renew_loop, "renew"), (self._listen_loop, "listen")):
            threading.Thread(target=target, name=f"shared-{name}", daemon=True).start()

    def _renew_loop(self) -> None:
        """Keep our locks alive while their reads run (never past a reader's deadline)."""
        while not self._stopping.wait(self._lock_ms / 4000):
            now = time.monotonic()
            with self._threads_lock:
                held = [(k, me) for k, (me, until) in self._held.items() if until > now]
            for lock_key, me in held:
                if not self._stopping.is_set():
                    self._call(partial(self._renew_one, lock_key, me), _nothing)

    def _renew_one(self, lock_key: str, me: str) -> Any:
        args: list[_Arg] = [me, self._lock_ms]
        return self._renew(keys=[lock_key], args=args)

    def _listen_loop(self) -> None:
        """Wake this process's waiters when a read they wait for is handed over or dropped."""
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            self._pubsub = pubsub
            try:
                pubsub.subscribe(self._channel)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    digest = message["data"].decode()
                    with self._threads_lock:
                        waiters = list(self._waiting.get(digest, ()))
                    for wake in waiters:
                        wake.set()
            except Exception:  # any failure here only slows waiters down to polling
                pass
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
            self._stopping.wait(self._retry_every)

    # -- shape -----------------------------------------------------------------------------

    def load_shape(self) -> bytes | None:
        """The newest shape any process stored (this process's own copy while Redis is down)."""
        data: Any = self._call(lambda: self._redis.get(self._prefix + "shape"), _nothing)
        return bytes(data) if data is not None else self.local.load_shape()

    def store_shape(self, data: bytes, ttl: float) -> None:
        """Share the shape for ``ttl`` seconds (and keep a copy in this process)."""
        self.local.store_shape(data, ttl)
        ms = max(1, round(ttl * 1000))
        self._call(lambda: self._redis.set(self._prefix + "shape", data, px=ms), _nothing)

    # -- rate budget -----------------------------------------------------------------------

    def acquire(self, deadline: float) -> None:
        """Wait for the fleet's next free upstream slot (``BudgetTimeout`` if after deadline)."""
        now = time.monotonic()
        if not self._interval_us and now < self._no_pause_until:
            self.local.acquire(deadline)  # this process's own back-off still holds
            return
        longest = max(0, round((deadline - now) * 1e6))
        args: list[_Arg] = [self._interval_us, self._slack_us, longest]
        answer = self._call(lambda: self._reserve(keys=self._budget_keys, args=args), _nothing)
        if answer is None:
            self.local.acquire(deadline)
            return
        granted, wait = int(answer[0]), int(answer[1]) / 1e6
        if not granted:
            raise BudgetTimeout(wait)
        if not wait:
            self._no_pause_until = now + PAUSE_LOOK
        if wait > 0:
            time.sleep(wait)

    def back_off(self, seconds: float) -> None:
        """Hold every process's upstream calls for ``seconds`` (this one's too if Redis is down)."""
        if seconds <= 0:
            return
        self.local.back_off(seconds)
        us = round(seconds * 1e6)
        self._call(lambda: self._pause(keys=self._budget_keys[1:], args=[us]), _nothing)

    def close(self) -> None:
        """Stop the background threads and close every connection."""
        self._stopping.set()
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        self._redis.close()
        self._redis.connection_pool.disconnect()
