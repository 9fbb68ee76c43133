"""What kind of quantity a column holds, told by its label, and how people read each kind.

The reports keep raw values (CSV and JSON print them exactly); HTML and XLSX show them the way
an analyst expects: money with 2 decimals, rates as percentages, other ratios with 4 places,
counts with thousands separators.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from ..reports.metrics import RATIOS, label_key
from ..reports.numbers import DISPLAY, Number

Kind = Literal["text", "money", "percent", "ratio", "number"]

# Words that make a label money: "Spend", "Cost", "Cost per Click", "CPC", "CPM", ...
_MONEY_WORDS = frozenset({"spend", "cost", "cpc", "cpm", "cpa", "budget", "revenue", "amount"})
# Words that make a label a rate, shown as a percentage: "Clickthrough Rate", "CTR", ...
_RATE_WORDS = frozenset({"rate", "ctr"})
_CENT = Decimal("0.01")
_RATIO_STEP = Decimal("0.0001")


def column_kind(label: str, numeric: bool) -> Kind:
    """The kind of a column from its label: text unless ``numeric``; money, percent, ratio, or
    a plain number."""
    if not numeric:
        return "text"
    key = label_key(label)
    # A comparison's columns (``reports.periods``): "X Δ%" a rate, "X Δ" what X is.
    if key.endswith(" δ%"):
        return "percent"
    if key.endswith(" δ"):
        return column_kind(key[: -len(" δ")], numeric)
    words = set(key.replace("-", " ").split())
    if words & _RATE_WORDS:
        return "percent"
    if words & _MONEY_WORDS:
        return "money"
    if key in RATIOS:
        return "ratio"
    return "number"


def display_number(value: Number, kind: Kind) -> str:
    """``value`` for a reader: thousands separators, and fixed decimals by kind
    (money 2, percent ×100 with 2 and a % sign, ratio 4; plain numbers as exact as they are).
    Computed in ``DISPLAY``, wide enough for any value a report holds."""
    if kind == "money":
        return f"{DISPLAY.quantize(Decimal(value), _CENT):,f}"
    if kind == "percent":
        return f"{DISPLAY.quantize(DISPLAY.multiply(Decimal(value), 100), _CENT):,f}%"
    if kind == "ratio":
        return f"{DISPLAY.quantize(Decimal(value), _RATIO_STEP):,f}"
    if type(value) is int:
        return f"{value:,}"
    return f"{value:,f}"
