"""Column storage against the exact Decimal behaviour it replaces: cells, printing, sums,
equality and order, for any bounded number (and the few beyond 64 bits)."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.reports.columnar import (
    BIG,
    EMPTY,
    NumberColumn,
    join_number,
    split_number,
)
from stract_reports.reports.ingest import ratios
from stract_reports.reports.numbers import ARITHMETIC, Number, format_number, ratio
from stract_reports.reports.words import TextColumn, Words

FAST = settings(max_examples=80, deadline=None)

# Bounded numbers (at most 30 digits, exponents within ±20), as the upstream sends them: ints,
# and Decimals with their own exponent (trailing zeros kept: 5.50 is not 5.5).
ints = st.integers(min_value=-(10**20), max_value=10**20)
small_ints = st.integers(min_value=-100_000, max_value=100_000)
decimals = st.builds(
    lambda digits, exponent, negative: Decimal((negative, tuple(map(int, str(digits))), exponent)),
    st.one_of(st.integers(0, 10**6), st.integers(0, 10**30 - 1)),
    st.integers(-20, 3),
    st.booleans(),
)
money = st.builds(
    lambda cents, places: Decimal(cents).scaleb(-places), small_ints, st.integers(0, 3)
)
numbers = st.one_of(ints, small_ints, decimals, money)
cells = st.lists(st.one_of(st.none(), numbers), max_size=40)


def printed(value: Number | None) -> str | None:
    return None if value is None else format_number(value)


def exact_sum(values: list[Number | None]) -> Number | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    with localcontext(ARITHMETIC):
        return sum(present)  # type: ignore[return-value]


@FAST
@given(numbers)
def test_split_and_join_keep_the_value_and_its_printed_form(value: Number) -> None:
    split = split_number(value)
    if split is None:
        if isinstance(value, int):
            assert abs(value) >= 2**63 - 1
        elif not (value.is_zero() and value.is_signed()):  # a negative zero, or too many digits
            digits = value.scaleb(max(0, -value.as_tuple().exponent))  # type: ignore[operator]
            assert abs(digits) >= 2**63 - 1
        return
    again = join_number(*split)
    assert again == value
    assert format_number(again) == format_number(value)


@FAST
@given(cells)
def test_cells_and_texts_are_the_values_and_their_printed_form(values: list[Number | None]) -> None:
    column = NumberColumn.of(values)
    rows = range(len(values))
    assert len(column) == len(values)
    assert [printed(v) for v in column.cells(rows)] == [printed(v) for v in values]
    assert column.cells(rows) == values
    assert column.texts(rows) == [printed(v) for v in values]
    comma = [None if v is None else format_number(v, ",") for v in values]
    assert column.texts(rows, ",") == comma


@FAST
@given(cells, st.data())
def test_any_rows_in_any_order(values: list[Number | None], data: st.DataObject) -> None:
    column = NumberColumn.of(values)
    picked = data.draw(st.lists(st.integers(0, max(0, len(values) - 1)), max_size=30))
    if not values:
        picked = []
    assert column.texts(picked) == [printed(values[i]) for i in picked]
    taken = column.take(picked)
    assert taken.texts(range(len(picked))) == [printed(values[i]) for i in picked]
    assert taken.cells(range(len(picked))) == [values[i] for i in picked]


@FAST
@given(cells, st.data())
def test_totals_are_exact_sums_printed_as_the_decimals_print(
    values: list[Number | None], data: st.DataObject
) -> None:
    column = NumberColumn.of(values)
    start = data.draw(st.integers(0, len(values)))
    stop = data.draw(st.integers(start, len(values)))
    expected = exact_sum(values[start:stop])
    total = column.total(range(start, stop))
    assert total == expected
    assert printed(total) == printed(expected)
    picked = data.draw(st.lists(st.integers(0, max(0, len(values) - 1)), max_size=30))
    if values:
        expected = exact_sum([values[i] for i in picked])
        assert printed(column.total(picked)) == printed(expected)


@FAST
@given(cells, st.data())
def test_equality_is_numeric_and_empty_matches_empty(
    values: list[Number | None], data: st.DataObject
) -> None:
    column = NumberColumn.of(values)
    wanted = data.draw(
        st.one_of(st.none(), st.sampled_from(values) if values else st.none(), numbers)
    )
    if wanted is None:
        expected = [i for i, v in enumerate(values) if v is None]
    else:
        expected = [i for i, v in enumerate(values) if v is not None and v == wanted]
    assert column.equal_rows(wanted) == expected


@FAST
@given(cells)
def test_sort_keys_order_as_numbers(values: list[Number | None]) -> None:
    column = NumberColumn.of(values)
    filled = [i for i, v in enumerate(values) if v is not None]
    keys = column.sort_keys(filled)
    by_keys = [i for _, i in sorted(zip(keys, filled, strict=True), key=lambda pair: pair[0])]
    assert by_keys == sorted(filled, key=lambda i: values[i])  # type: ignore[arg-type, return-value]
    assert column.is_empty(range(len(values))) == [v is None for v in values]


def test_what_does_not_fit_64_bits_is_kept_whole() -> None:
    values: list[Number | None] = [
        10**20,
        Decimal("-0.00"),
        Decimal("1E+25"),
        Decimal("0.000000000000000000012345678901234567890123456789"),
        Decimal("5.50"),
        None,
    ]
    column = NumberColumn.of(values)
    assert list(column.scales) == [BIG, BIG, BIG, BIG, 2, EMPTY]
    assert column.texts(range(6)) == [
        "100000000000000000000",
        "-0.00",
        "10000000000000000000000000",
        "0.000000000000000000012345678901234567890123456789",
        "5.50",
        None,
    ]
    assert column.total(range(6)) == exact_sum(values)
    assert column.equal_rows(0) == [1]


def test_text_columns_keep_each_distinct_value_once() -> None:
    values = ["BR", "US", None, "BR", "", "br", "US"]
    column = TextColumn.of(values)
    assert column.values == [None, "BR", "US", "br"]
    assert list(column.codes) == [1, 2, 0, 1, 0, 3, 2]
    assert column.cells(range(7)) == ["BR", "US", None, "BR", None, "br", "US"]
    assert column.equal_rows("BR") == [0, 3]
    assert column.equal_rows("") == [2, 4]
    assert column.equal_rows("XX") == []
    assert column.take([6, 0]).cells(range(2)) == ["US", "BR"]
    assert TextColumn.repeated("Meta", 3).cells(range(3)) == ["Meta"] * 3


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=30))
def test_text_sort_keys_order_as_the_slicing_key(values: list[str | None]) -> None:
    column = TextColumn.of(values)
    filled = [i for i, v in enumerate(values) if v]
    keys = column.sort_keys(filled)
    by_keys = [i for _, i in sorted(zip(keys, filled, strict=True), key=lambda pair: pair[0])]
    expected = sorted(filled, key=lambda i: (str(values[i]).casefold(), str(values[i])))
    assert by_keys == expected


def test_codes_follow_first_appearance() -> None:
    words = Words()
    assert list(words.encode(["b", "a", "b"])) == [1, 2, 1]
    assert list(words.encode(["c", "a", None, ""])) == [3, 2, 0, 0]
    assert words.values == [None, "b", "a", "c"]


@FAST
@given(
    st.lists(st.tuples(st.one_of(st.none(), numbers), st.one_of(st.none(), numbers, st.just(0))))
)
def test_ratios_are_the_decimal_ratio_exactly(pairs: list[tuple[Any, Any]]) -> None:
    tops, bottoms = [a for a, _ in pairs], [b for _, b in pairs]
    got = ratios(NumberColumn.of(tops), NumberColumn.of(bottoms))
    expected = [ratio(a, b) for a, b in pairs]
    rows = range(len(pairs))
    assert got.cells(rows) == expected
    assert got.texts(rows) == [printed(v) for v in expected]


@FAST
@given(st.lists(cells, max_size=5), st.data())
def test_texts_of_any_range_across_pieces(pieces: list[list[Number | None]], data: Any) -> None:
    column = NumberColumn.concat([NumberColumn.of(values) for values in pieces])
    values = [v for piece in pieces for v in piece]
    start = data.draw(st.integers(0, len(values)))
    stop = data.draw(st.integers(start, len(values)))
    assert column.texts(range(start, stop)) == [printed(v) for v in values[start:stop]]
    comma = [None if v is None else format_number(v, ",") for v in values[start:stop]]
    assert column.texts(range(start, stop), ",") == comma


@FAST
@given(cells)
def test_float_literals_as_bytes_are_the_numbers_they_write(values: list[Number | None]) -> None:
    literals = [v if v is None or isinstance(v, int) else str(v).encode() for v in values]
    column = NumberColumn.of(literals)
    rows = range(len(values))
    assert column.cells(rows) == values
    assert column.texts(rows) == [printed(v) for v in values]


@FAST
@given(st.lists(st.lists(money, min_size=1, max_size=8), max_size=4), st.data())
def test_float_literals_kept_as_text_until_a_sum_needs_them(
    pieces: list[list[Decimal]], data: Any
) -> None:
    """Pieces of float literals only (the usual insights column) stay text until used."""
    literals = [
        [(str(v) if "." in str(v) else f"{v}.0").encode() for v in piece] for piece in pieces
    ]
    values: list[Number | None] = [Decimal(x.decode()) for piece in literals for x in piece]
    column = NumberColumn.concat([NumberColumn.of(piece) for piece in literals])
    rows = range(len(values))
    assert column.texts(rows) == [printed(v) for v in values]
    assert column.texts(rows, ",") == [format_number(v, ",") for v in values]  # type: ignore[arg-type]
    assert column.is_empty(rows) == [False] * len(values)
    start = data.draw(st.integers(0, len(values)))
    assert printed(column.total(range(start, len(values)))) == printed(exact_sum(values[start:]))
    assert column.cells(rows) == values
    assert column.texts(rows) == [printed(v) for v in values]
