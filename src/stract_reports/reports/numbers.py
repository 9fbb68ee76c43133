"""The one number parser and the one number printer of the program.

Numbers are kept exact: JSON decimals arrive as ``Decimal`` (see ``upstream.client``), numeric
strings are parsed to ``Decimal``, integers stay ``int``. Sums are therefore exact, and printing
never shows binary float noise such as 1.2970000000000002.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

Number = int | Decimal

_NUMERIC_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_RATIO_STEP = Decimal("0.000001")


def parse_number(value: Any) -> Number | None:
    """``value`` as an exact number if it is one (JSON number or numeric string), else None.

    Booleans, empty strings and None are not numbers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, float):  # only when a caller decoded JSON without parse_float
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC_TEXT.fullmatch(text):
            return int(text) if text.lstrip("+-").isdigit() else Decimal(text)
    return None


def ratio(numerator: Number | None, denominator: Number | None) -> Decimal | None:
    """``numerator / denominator`` rounded to 6 decimal places; None when undefined."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    quotient = (Decimal(numerator) / Decimal(denominator)).quantize(_RATIO_STEP, ROUND_HALF_EVEN)
    return quotient.normalize() if quotient else Decimal(0)


def format_number(value: Number, decimal_separator: str = ".") -> str:
    """Plain positional notation, never an exponent; ``decimal_separator`` for locales."""
    text = str(value) if type(value) is int else format(value, "f")
    return text if decimal_separator == "." else text.replace(".", decimal_separator)
