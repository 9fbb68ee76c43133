"""Quality flags and facets as pure functions: the edges of each check (a cent exactly, zero
clicks, empty cells, digits past a float's), and the order and bounds of a facet's values."""

from __future__ import annotations

from decimal import Decimal

from stract_reports.reports.columnar import NumberColumn
from stract_reports.reports.facets import facet, suggested_columns
from stract_reports.reports.quality import Quality, flags_column, inspect, quality_warnings

COLUMNS = ["Account Name", "Clicks", "Impressions", "Spend", "Cost per Click", "CTR"]
NUMERIC = [False, True, True, True, True, True]


def quality_of(rows: list[list[object]]) -> Quality:
    """The checks of a table of these rows, held column-wise as a report holds them."""
    return inspect(COLUMNS, NUMERIC, lambda c: NumberColumn.of([r[c] for r in rows]))


def check(rows: list[list[object]]) -> list[list[str | None]]:
    """The Flags cell of each row, as a reader gets them."""
    return [[flag] for flag in flags_column(quality_of(rows), len(rows))]


def test_a_cent_is_the_line_exactly() -> None:
    rows: list[list[object]] = [
        ["a", 100, 1000, Decimal("50"), Decimal("0.51"), None],  # 0.51 vs 0.50: a cent, not more
        ["b", 100, 1000, Decimal("50"), Decimal("0.5100000000000000000001"), None],  # past it
        ["c", 3, 1000, Decimal("1"), Decimal("0.333333"), None],  # rounded: well within
        ["d", 0, 1000, Decimal("5"), Decimal("9"), None],  # no clicks: no quotient to differ
        ["e", None, 1000, Decimal("5"), Decimal("9"), None],  # no clicks served
        ["f", 100, 1000, None, Decimal("9"), None],  # no spend
        ["g", 100, 1000, Decimal("50"), None, None],  # no CPC served
    ]
    assert check(rows) == [
        [None],
        ["Cost per Click ≠ Spend ÷ Clicks"],
        [None],
        [None],
        [None],
        [None],
        [None],
    ]


def test_rates_above_one_and_more_clicks_than_impressions() -> None:
    rows: list[list[object]] = [
        ["a", 10, 10, None, None, Decimal("1")],  # 100 %: possible
        ["b", 11, 10, None, None, Decimal("1.0000001")],
        ["c", 11, None, None, None, None],
    ]
    assert check(rows) == [[None], ["CTR > 100 %; Clicks > Impressions"], [None]]


def test_warnings_count_the_selected_rows_and_name_the_first_accounts() -> None:
    rows: list[list[object]] = [[f"acct {i % 5}", 2, 1, None, None, None] for i in range(12)]
    quality = quality_of(rows)

    def accounts(picked: object) -> list[object]:
        return [rows[i][0] for i in picked]  # type: ignore[attr-defined]

    assert quality_warnings(quality, None, accounts) == [
        "Clicks: 12 ads have more clicks than impressions (accounts acct 0, acct 1, acct 2 and "
        "2 more); shown as the upstream serves them"
    ]
    assert quality_warnings(quality, [0, 5], accounts) == [
        "Clicks: 2 ads have more clicks than impressions (accounts acct 0); shown as the "
        "upstream serves them"
    ]
    assert quality_warnings(quality, [], accounts) == []


def test_no_check_without_its_columns() -> None:
    quality = inspect(["Ad Name", "Clicks"], [False, True], lambda c: NumberColumn.of([5]))
    assert quality.checks == ()


def test_facet_values_most_frequent_first_then_alphabetically_empty_last() -> None:
    cells = ["b", "A", None, "a", "b", None, "c"]
    spends = [Decimal("1.10"), 2, Decimal("0.01"), 3, Decimal("2.20"), None, 5]
    found = facet("Name", cells, spends)

    assert [(v.value, v.count, v.spend) for v in found.values] == [
        ("b", 2, Decimal("3.30")),
        (None, 2, Decimal("0.01")),
        ("A", 1, 2),
        ("a", 1, 3),
        ("c", 1, 5),
    ]
    assert found.truncated is False
    few = facet("Name", cells, None, limit=2, asked=False)
    assert ([v.value for v in few.values], few.truncated, few.asked) == (["b", None], True, False)
    assert few.values[0].spend is None


def test_suggested_columns_hold_two_to_thirty_values_or_one_under_a_filter() -> None:
    columns = [
        (0, ["x"] * 5),
        (1, ["x", "y"] * 3),
        (2, [str(i) for i in range(31)]),
        (3, [str(i) for i in range(30)]),
        (4, ["only"] * 4),
    ]
    assert suggested_columns(columns) == [1, 3]
    assert suggested_columns(columns, filtered={4}) == [1, 3, 4]
