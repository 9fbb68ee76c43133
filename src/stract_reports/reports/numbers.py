"""The one number parser and the one number printer of the program, and the bounds on numbers.

Numbers are kept exact: JSON decimals arrive as ``Decimal`` (see ``upstream.client``), numeric
strings are parsed to ``Decimal``, integers stay ``int``. Sums are therefore exact, and printing
never shows binary float noise such as 1.2970000000000002.

Every number that enters a report is bounded (``check_number``): at most ``MAX_DIGITS`` (30)
significant digits, trailing zeros included, and a decimal exponent, in scientific notation,
within ±``MAX_EXPONENT`` (20): a non-zero magnitude in [1e-20, 1e21). A numeric string is at
most ``MAX_NUMBER_TEXT`` (100) characters. So a number prints in at most 52 characters, and a sum
of a billion of them is still exact in ``ARITHMETIC`` (100 digits). Beyond the bounds a value is
``NumberOutOfRange``, which the report turns into a 502 naming the field and the account: a
14-byte ``1e100000000`` would otherwise print as 100 MB of zeros.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Clamped,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
)
from functools import partial
from math import isfinite
from operator import is_not
from typing import Any

from ..redaction import redact

Number = int | Decimal

MAX_DIGITS = 30
MAX_EXPONENT = 20
MAX_NUMBER_TEXT = 100

# ASCII digits only: "١٢٣" (Arabic-Indic) is text, though Decimal() would read it as 123.
_NUMERIC_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_RATIO_STEP = Decimal("0.000001")

# Rounding a value to this context signals (and so raises) exactly when it is out of bounds:
# too many digits (Rounded), too large (Overflow), too small (Subnormal), a zero with an absurd
# exponent (Clamped).
_BOUNDS = Context(
    prec=MAX_DIGITS,
    Emax=MAX_EXPONENT,
    Emin=-MAX_EXPONENT,
    traps=[InvalidOperation, Overflow, Subnormal, Rounded, Clamped],
)
# Sums are exact or fail (Inexact is trapped), never silently rounded as in the default context
# of 28 digits; bounded values need at most 20 + 10 + 50 digits for a sum of 1e10 of them.
ARITHMETIC = Context(
    prec=100,
    rounding=ROUND_HALF_EVEN,
    Emax=999,
    Emin=-999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
# Ratios round by design (to six places), so rounding is not an error there.
_RATIOS = Context(
    prec=100, rounding=ROUND_HALF_EVEN, Emax=999, Emin=-999, traps=[InvalidOperation, Overflow]
)
# What people read (money to the cent, percentages, ratios to four places) is computed here: wide
# enough to show, to a fixed number of places, anything ARITHMETIC holds (a sum or a ratio of
# bounded values, 1e40 for a Spend of 1e20 over Clicks of 1e-20), where the default context's 28
# digits would raise.
DISPLAY = Context(
    prec=1100, rounding=ROUND_HALF_UP, Emax=999, Emin=-999, traps=[InvalidOperation, Overflow]
)

_not_none = partial(is_not, None)
# The exceptions a number out of bounds raises, for callers that check many values at once.
BOUNDS_ERRORS = (DecimalException, TypeError)


class NumberOutOfRange(ValueError):
    """A value is a number, but beyond the bounds a report accepts."""

    def __init__(self, value: object, index: int | None = None) -> None:
        super().__init__(
            f"{shown(value)} is out of range (a number has at most {MAX_DIGITS} digits and a "
            f"magnitude below 1e{MAX_EXPONENT + 1}, and is 0 or at least 1e-{MAX_EXPONENT})"
        )
        self.value = value
        self.index = index  # where the value is, for callers that check many


def check_number(value: Number) -> Number:
    """``value`` itself if it is within the bounds; else ``NumberOutOfRange``."""
    if isinstance(value, Decimal) and not value.is_finite():
        raise NumberOutOfRange(value)
    try:
        _BOUNDS.plus(value)
    except DecimalException:
        raise NumberOutOfRange(value) from None
    return value


def check_numbers(values: Sequence[Number | None]) -> None:
    """Check many numbers (ints and Decimals; None is skipped) at C speed;
    ``NumberOutOfRange`` names the first one out of bounds, with its index."""
    try:
        numbers: Iterator[Any] = filter(_not_none, values)
        deque(map(_BOUNDS.plus, numbers), 0)
    except BOUNDS_ERRORS:
        for index, value in enumerate(values):
            if value is not None:
                try:
                    check_number(value)
                except NumberOutOfRange as exc:
                    exc.index = index
                    raise
        raise  # pragma: no cover (the loop above finds the value)


def parse_number(value: Any) -> Number | None:
    """``value`` as an exact number if it is one (JSON number or numeric string), else None.

    Booleans, empty strings and None are not numbers. A number beyond the bounds raises
    ``NumberOutOfRange``.
    """
    kind = type(value)
    if kind is int or kind is Decimal:
        return check_number(value)
    if kind is str:
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            return None
        if len(text) > MAX_NUMBER_TEXT:
            raise NumberOutOfRange(value)
        try:
            return check_number(int(text) if text.lstrip("+-").isdigit() else Decimal(text))
        except NumberOutOfRange:
            raise NumberOutOfRange(value) from None  # named as the upstream wrote it
    if kind is float:  # only when a caller decoded JSON without parse_float
        if not isfinite(value):
            raise NumberOutOfRange(value)
        try:
            return check_number(Decimal(repr(value)))
        except NumberOutOfRange:
            raise NumberOutOfRange(value) from None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return check_number(value)
    return None


def looks_numeric(text: str) -> bool:
    """Whether ``text`` is written as a number (in range or not)."""
    return _NUMERIC_TEXT.fullmatch(text.strip()) is not None


def ratio(numerator: Number | None, denominator: Number | None) -> Decimal | None:
    """``numerator / denominator`` rounded to 6 decimal places; None when undefined."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    quotient = _RATIOS.divide(numerator, denominator).quantize(_RATIO_STEP, context=_RATIOS)
    return _RATIOS.normalize(quotient) if quotient else Decimal(0)


def format_number(value: Number, decimal_separator: str = ".") -> str:
    """Plain positional notation, never an exponent; ``decimal_separator`` for locales."""
    text = str(value) if type(value) is int else format(value, "f")
    return text if decimal_separator == "." else text.replace(".", decimal_separator)


def shown(value: object, limit: int = 24) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters with its full length; the
    secrets this process knows are masked before the cut (which could leave a piece of one)."""
    if isinstance(value, int) and value.bit_length() > 1000:  # str() refuses 4300+ digits
        return f"an integer of about {round(value.bit_length() * 0.30103)} digits"
    text = redact(value if isinstance(value, str) else str(value))
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"
