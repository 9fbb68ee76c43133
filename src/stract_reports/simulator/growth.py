"""Lifetime metrics that grow as time passes, so recorded history shows changes.

The Stract API has no dates: every insight is a lifetime number as of the read. A real account
spends, is clicked and is shown all day, so two reads an hour apart differ. The captured data is
one moment; with a ``Growth``, the simulator serves each ad's additive metrics (clicks,
impressions, spend) grown from that moment: ``base + floor(base * rate * factor * minutes)``,
where ``factor`` is a stable per-ad number in [0.5, 1.5) so that accounts and platforms grow at
different paces. Values only ever grow, stay whole for counts and whole cents for money, and
the same time gives the same numbers in every process. Ratios the upstream serves (its own
CPC and CTR) are left as they are: the real API's ratios disagree with its counts too.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Keys of additive lifetime metrics, by platform key name: counts and money.
COUNTS = frozenset({"clicks", "impressions"})
MONEY = frozenset({"spend", "cost"})
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Growth:
    """Grow additive metrics by about ``per_minute`` (a fraction, 0.01 = 1 %) of their
    captured value each minute since ``start`` (seconds of ``clock``)."""

    per_minute: float
    start: float = field(default_factory=time.time)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_minute) and self.per_minute >= 0):
            raise ValueError(f"growth must be a non-negative number, not {self.per_minute}")

    def minutes(self) -> float:
        """Minutes since ``start`` (never negative)."""
        return max(0.0, (self.clock() - self.start) / 60)

    def grow(self, platform: str, account: str, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` (an insight row with its ``id``) as it reads now: a new dict."""
        minutes = self.minutes()
        if not minutes or not self.per_minute:
            return row
        step = self.per_minute * _factor(platform, account, row.get("id")) * minutes
        grown = dict(row)
        for key, value in row.items():
            if key in COUNTS and type(value) is int:
                grown[key] = value + math.floor(value * step)
            elif key in MONEY and type(value) in (int, float, Decimal):
                exact = Decimal(repr(value)) if type(value) is float else Decimal(value)
                cents = math.floor(exact / _CENT * Decimal(repr(step)))
                grown[key] = exact + cents * _CENT
        return grown


def _factor(platform: str, account: str, ad: Any) -> float:
    """A stable number in [0.5, 1.5) per ad: the same in every process and run."""
    digest = hashlib.blake2b(f"{platform}/{account}/{ad}".encode(), digest_size=8).digest()
    return 0.5 + int.from_bytes(digest, "big") / 2**64
