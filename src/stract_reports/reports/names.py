"""How summaries treat ratio columns: recompute them from summed components, or sum them."""

from __future__ import annotations

from typing import Literal, get_args

RatioMode = Literal["recompute", "sum"]
RATIO_MODES: tuple[str, ...] = get_args(RatioMode)
