"""The upstream's rate budget: upstream calls per second (``STRACT_UPSTREAM_RPS``), evenly
spaced (GCRA), and the back-off a 429's ``Retry-After`` imposes.

``Bucket`` keeps it in this process's memory. ``SharedBudget`` keeps it in Redis for the whole
fleet, on Redis's clock: ``{budget}:tat`` (the next free slot, µs; a second beyond it) and
``{budget}:pause`` (a back-off, µs; until it ends); while Redis is down, this process's
``Bucket`` answers. What Redis holds there is bounded when read (``reserve.lua``): neither holds
calls more than ``MAX_HOLD`` ahead, as a Retry-After is clamped, and a key that would hold
longer, lacks its expiry or is no number is rewritten to that bound with its expiry.
"""

from __future__ import annotations

import threading
import time

from ...config import Settings
from ..retry import RetryPolicy
from .link import RedisLink, nothing
from .protocol import BudgetTimeout

# With no rate limit, how long a process trusts that the fleet has no back-off in force.
PAUSE_LOOK = 0.1
# The longest the fleet's budget may hold calls, whatever Redis says: a Retry-After's bound.
MAX_HOLD = RetryPolicy.retry_after_max


class Bucket:
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

    def acquire(self, deadline: float) -> None:
        """Wait for a granted slot (and the end of any back-off)."""
        wait = self.reserve(deadline)
        if wait > 0:
            time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now."""
        if seconds <= 0:
            return
        with self._lock:
            self._pause = max(self._pause, time.monotonic() + seconds)


class SharedBudget:
    """The fleet's budget in Redis through ``link``, ``local`` while Redis is down; ``burst``:
    calls granted back to back (1: evenly spaced, so no window sees more than the rate)."""

    def __init__(self, link: RedisLink, settings: Settings, local: Bucket, *, burst: int) -> None:
        self._link = link
        self._local = local
        interval = 1.0 / settings.upstream_rps if settings.upstream_rps > 0 else 0.0
        self._interval_us = round(interval * 1e6)
        self._slack_us = round((burst - 1) * interval * 1e6)
        self._keys = [f"{link.prefix}{{budget}}:tat", f"{link.prefix}{{budget}}:pause"]
        self._reserve = link.script("reserve")
        self._pause = link.script("pause")
        # Without a rate, the budget is only the fleet's back-off: looked up at most once per
        # PAUSE_LOOK seconds rather than before every call (a round trip costs ~0.1 ms of CPU).
        self._no_pause_until = 0.0

    def acquire(self, deadline: float) -> None:
        """Wait for the fleet's next free upstream slot (``BudgetTimeout`` if after deadline)."""
        now = time.monotonic()
        if not self._interval_us and now < self._no_pause_until:
            self._local.acquire(deadline)  # this process's own back-off still holds
            return
        longest = max(0, round((deadline - now) * 1e6))
        args = [self._interval_us, self._slack_us, longest, round(MAX_HOLD * 1e6)]
        answer = self._link.call(lambda: self._reserve(keys=self._keys, args=args), nothing)
        if answer is None:
            self._local.acquire(deadline)
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
        self._local.pause(seconds)
        us = round(seconds * 1e6)
        self._link.call(lambda: self._pause(keys=self._keys[1:], args=[us]), nothing)
