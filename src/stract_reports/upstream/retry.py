"""The retry policy of upstream calls as one frozen value, like urllib3's ``Retry``: how many
attempts, how long between them, how far a ``Retry-After`` is believed and waited for, and
what another attempt may fix. Pure: no I/O; the random draw and the clock can be given.

Retries live in the client's loop rather than in urllib3: the same loop must also retry
truncated and malformed bodies, and stop at the report's deadline.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from .transport import BadEncoding, ConnectFailed, CutShort, Dropped, ExchangeError, TimedOut

# Failed exchanges another attempt may fix. Not a body over the byte cap (it comes back the
# same) nor an abandoned one; a timeout that is the report's own deadline the client tells apart.
_RETRYABLE_EXCHANGES = (ConnectFailed, Dropped, TimedOut, CutShort, BadEncoding)


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed upstream call is tried again."""

    retries: int = 3  # further attempts after the first
    backoff: float = 0.1  # the first wait, doubling with each attempt ...
    backoff_max: float = 2.0  # ... up to this
    jitter: float = 0.5  # each wait is drawn from ±jitter of itself: callers do not move in step
    retry_after_cap: float = 5.0  # a longer Retry-After is not waited for: the call fails at once
    # Retry-After is believed within 0..this: negative means now, and an absurd value (inf,
    # 1e400, a date in year 9999) must not overflow anything downstream.
    retry_after_max: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy the settings declare (``STRACT_RETRIES`` and the back-off settings)."""
        return cls(
            retries=settings.retries,
            backoff=settings.backoff,
            backoff_max=settings.backoff_max,
            retry_after_cap=settings.retry_after_cap,
        )

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and its retries."""
        return self.retries + 1

    def retries_status(self, status: int) -> bool:
        """Whether another attempt may fix an answer with ``status``: 429 and 5xx; never another
        4xx, nor a redirect."""
        return status == 429 or status >= 500

    def retries_exchange(self, error: ExchangeError) -> bool:
        """Whether another attempt may fix a failed exchange: a connection refused or dropped,
        a timeout, a body cut short or in an encoding that did not decode."""
        return isinstance(error, _RETRYABLE_EXCHANGES)

    def wait(
        self,
        attempt: int,
        retry_after: float | None,
        draw: Callable[[float, float], float] = random.uniform,
    ) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (from 1): the upstream's
        ``retry_after`` when it said one, else the exponential back-off with jitter. None when
        the upstream asks for longer than ``retry_after_cap``: waiting would hold the report."""
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_after_cap else None
        base = min(self.backoff_max, self.backoff * 2 ** (attempt - 1))
        return base * draw(1 - self.jitter, 1 + self.jitter)

    def retry_after(self, header: str | None, now: Callable[[], float] = time.time) -> float | None:
        """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), clamped to
        0..``retry_after_max``; None when absent or unreadable."""
        if not header:
            return None
        try:
            seconds = float(header.strip())
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
                seconds = when.timestamp() - now()
            except (TypeError, ValueError, OverflowError, IndexError):
                return None
        if math.isnan(seconds):
            return None
        return min(max(0.0, seconds), self.retry_after_max)
