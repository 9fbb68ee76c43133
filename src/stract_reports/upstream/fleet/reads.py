"""Shared reads: one process of the fleet reads an upstream call, every identical caller in
every process takes its body's bytes.

A reader holds ``read:{H}:lock`` (its random id; ``lock_ttl`` ms, renewed while it reads, so a
reader that dies holds it that long at most). A waiter marks ``read:{H}:join:ID`` and sleeps
until the reader publishes on the scope's ``done`` channel (or a poll finds the body). Only a
good body is handed over, in ``read:{H}:res:ID`` for ``handover`` seconds (+ ``cache_ttl``); a
failed read is freed and each waiter then reads for itself. With ``cache_ttl`` > 0 a finished
body is also reused for that long (``read:{H}:last``).

Bodies are sealed under the read's digest (``seal``): a body that fails its seal (written by
something without the API token, moved from another read, or too old) is ignored, and the
waiter reads for itself — never a report's error. A lock that is not one of ours (no expiry,
a longer one, not our kind of id) is taken over (``claim.lua``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ...config import Settings
from .link import RedisLink, nothing
from .protocol import SharedError, SharedTimeout
from .seal import Seal

_Arg = str | int | bytes


class SharedReads:
    """Single-flight across processes through ``link``; see the module's docstring."""

    def __init__(
        self,
        link: RedisLink,
        seal: Seal,
        settings: Settings,
        *,
        lock_ttl: float,
        handover: float,
        poll_max: float,
    ) -> None:
        self._link = link
        self._seal = seal
        self._lock_ms = max(1, round(lock_ttl * 1000))
        self._result_ms = max(1, round((handover + settings.cache_ttl) * 1000))
        self._cache_ms = round(settings.cache_ttl * 1000)
        self._poll_max = poll_max
        self._channel = f"{link.prefix}done"
        self._claim = link.script("claim")
        self._finish = link.script("finish")
        self._abandon = link.script("abandon")
        self._renew = link.script("renew")
        # Locks this process holds: lock key -> (our id, monotonic time to stop renewing).
        self._held: dict[str, tuple[str, float]] = {}
        # Callers waiting on another process's read: hashed key -> their wake-up events.
        self._waiting: dict[str, set[threading.Event]] = {}
        self._threads_lock = threading.Lock()
        self._threads_pid = 0
        self._pubsub: Any = None

    def _keys(self, key: str) -> tuple[str, str, str, str]:
        digest = hmac.new(self._link.secret, key.encode(), hashlib.sha256).hexdigest()[:32]
        base = f"{self._link.prefix}read:{{{digest}}}:"
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
                answer = self._link.call(partial(claim, joined), nothing)
                if answer is None:  # Redis is down: this process reads for itself
                    return read()
                verdict, value = answer[0], answer[1]
                if verdict == b"done":
                    body = self._seal.open(digest, bytes(value))
                    if body is None:  # not a body any of us handed over: read it here
                        self._link.refused("an upstream body")
                        return read()
                    return body
                if verdict == b"read":
                    break
                joined = value.decode("ascii", "replace")
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
            self._link.call(lambda: self._abandon(keys=[lock_key], args=abandon), nothing)
            raise
        with self._threads_lock:
            self._held.pop(lock_key, None)
        sealed = self._seal.close(digest, body, self._result_ms / 1000)
        finish: list[_Arg] = [base, me, sealed, self._result_ms, self._cache_ms]
        finish += [self._channel, digest]
        self._link.call(lambda: self._finish(keys=[lock_key, last_key], args=finish), nothing)
        return body

    def close(self) -> None:
        """Stop listening (the link's ``stopping`` ends the background threads)."""
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()

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
        stopping = self._link.stopping
        while not stopping.wait(self._lock_ms / 4000):
            now = time.monotonic()
            with self._threads_lock:
                held = [(k, me) for k, (me, until) in self._held.items() if until > now]
            for lock_key, me in held:
                if not stopping.is_set():
                    self._link.call(partial(self._renew_one, lock_key, me), nothing)

    def _renew_one(self, lock_key: str, me: str) -> Any:
        args: list[_Arg] = [me, self._lock_ms]
        return self._renew(keys=[lock_key], args=args)

    def _listen_loop(self) -> None:
        """Wake this process's waiters when a read they wait for is handed over or dropped."""
        stopping = self._link.stopping
        while not stopping.is_set():
            pubsub = self._link.redis.pubsub(ignore_subscribe_messages=True)
            self._pubsub = pubsub
            try:
                pubsub.subscribe(self._channel)
                while not stopping.is_set():
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
            stopping.wait(self._link.retry_every)
