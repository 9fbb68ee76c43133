"""The one number parser, its bounds, exact arithmetic and the printer: pure functions."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from stract_reports.reports.numbers import (
    ARITHMETIC,
    NumberOutOfRange,
    check_numbers,
    format_number,
    parse_number,
    ratio,
    shown,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (Decimal("5.50"), Decimal("5.50")),
        ("5.50", Decimal("5.50")),
        (" -12 ", -12),
        ("1e3", Decimal("1E+3")),
        (".5", Decimal("0.5")),
        (1.25, Decimal("1.25")),
        ("1,234.56", None),
        ("n/a", None),
        ("", None),
        (True, None),
        (None, None),
        ({"a": 1}, None),
        ("NaN", None),
        ("Infinity", None),
    ],
)
def test_parse_number_keeps_numbers_exact_and_refuses_what_is_no_number(
    value: object, expected: object
) -> None:
    parsed = parse_number(value)
    assert parsed == expected and type(parsed) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        "9" * 30,  # 30 digits, but 1e30: beyond the magnitude bound
        "1" + "0" * 21,
        "1e21",
        "-1e21",
        "1e-21",
        "1.000000000000000000000000000000",  # 31 digits, trailing zeros count
        "1" * 5000,  # refused by length before any int() of 5000 digits
        "0." + "0" * 200 + "1",
        "1e400",
        "1e100000000",
        "0e-100000000",
        Decimal("1E+100000000"),
        Decimal("1E-400"),
        Decimal("Infinity"),
        10**25,
        -(10**4000),
        float("inf"),
        float("nan"),
        1e300,
    ],
)
def test_numbers_beyond_the_bounds_are_refused(value: object) -> None:
    with pytest.raises(NumberOutOfRange) as caught:
        parse_number(value)
    assert caught.value.value is value
    assert len(str(caught.value)) < 250  # the message never carries the whole value


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999999999.9999999999",  # 30 digits, below 1e21
        "-1e20",
        "1e-20",
        "0.000000000000000000000000000000",  # zero with 30 places
        "123456789012345678901234567890e-29",
        10**20,
    ],
)
def test_numbers_at_the_bounds_are_accepted(value: object) -> None:
    parsed = parse_number(value)
    assert parsed is not None and parsed == Decimal(value)  # type: ignore[arg-type]


def test_check_numbers_names_the_first_value_out_of_bounds_and_its_index() -> None:
    values = [1, None, Decimal("2.5"), Decimal("1E+30"), Decimal("1E+40")]
    with pytest.raises(NumberOutOfRange) as caught:
        check_numbers(values)
    assert (caught.value.value, caught.value.index) == (Decimal("1E+30"), 3)
    check_numbers([1, None, Decimal("-2.5")])  # in bounds: no error


def test_sums_in_the_arithmetic_context_stay_exact_past_the_default_28_digits() -> None:
    values = [Decimal("987654321098765432109.87")] * 20 + [Decimal("0.01")]
    with localcontext(ARITHMETIC):
        total = sum(values)
    assert total == Decimal("19753086421975308642197.41")
    assert format_number(total) == "19753086421975308642197.41"


def test_ratio_of_large_sums_is_exact_to_six_places() -> None:
    assert ratio(Decimal("19753086421975308642197.41"), 3) == Decimal(
        "6584362140658436214065.803333"
    )
    assert ratio(Decimal("1.5"), 0) is None
    assert ratio(None, 1) is None
    assert ratio(0, 7) == Decimal(0)
    assert ratio(Decimal("10"), 4) == Decimal("2.5")


@pytest.mark.parametrize(
    ("value", "separator", "text"),
    [
        (Decimal("1E+2"), ".", "100"),
        (Decimal("1E-7"), ".", "0.0000001"),
        (Decimal("0E-7"), ".", "0.0000000"),
        (Decimal("-5.50"), ",", "-5,50"),
        (10**20, ".", "100000000000000000000"),
    ],
)
def test_format_number_is_positional(value: Decimal | int, separator: str, text: str) -> None:
    assert format_number(value, separator) == text


def test_shown_cuts_long_values_and_names_their_length() -> None:
    assert shown("1e400") == "'1e400'"
    assert shown("7" * 5000) == "'777777777777777777777777'… (5000 characters)"
    assert shown(10**5000) == "an integer of about 5000 digits"
