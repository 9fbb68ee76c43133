"""The report core's pure functions, called directly: layout and ads_table (ads), settle_column
(columns), summarize (summary). No server: each test runs in milliseconds."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from stract_reports.errors import UpstreamBadPayload
from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.reports.ads import ads_table
from stract_reports.reports.columns import settle_column
from stract_reports.reports.layout import Derived, layout
from stract_reports.reports.numbers import NumberOutOfRange
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.summary import summarize
from tables import whole


def platform(
    label: str, fields: list[tuple[str, str]], accounts: dict[str, list[dict[str, Any]]]
) -> PlatformData:
    """Fetched data of one platform: ``accounts`` maps a name to its ads (dicts by key)."""
    keys = [key for _, key in fields]
    return PlatformData(
        Platform(label.lower(), label),
        [Field(key, text) for text, key in fields],
        [
            AccountData(
                Account(str(i), name, f"token-{i}"), [tuple(map(ad.get, keys)) for ad in ads]
            )
            for i, (name, ads) in enumerate(accounts.items(), start=1)
        ],
    )


def test_layout_merges_labels_and_derives_cost_per_click_for_a_platform_without_it() -> None:
    plan = layout(
        [
            [Field("clicks", "Clicks"), Field("spend", "Spend"), Field("cpc", "Cost per Click")],
            [Field("cost", " spend "), Field("clicks", "CLICKS"), Field("name", "Ad  Name")],
        ]
    )
    assert plan.columns == [
        "Platform",
        "Account Name",
        "Clicks",
        "Spend",
        "Cost per Click",
        "Ad Name",
    ]
    assert plan.sources == [[None, None, 0, 1, 2, None], [None, None, 1, 0, None, 2]]
    assert plan.derived == [[], [Derived(column=4, numerator=3, denominator=2)]]


def test_layout_keeps_fields_labelled_like_the_leading_columns_or_like_each_other() -> None:
    plan = layout(
        [
            [
                Field("platform", "Platform"),
                Field("acct", " account  name"),
                Field("a", "Status"),
                Field("b", "status"),
                Field("c", "Status (b)"),
            ]
        ]
    )
    assert plan.columns == [
        "Platform",
        "Account Name",
        "Platform (platform)",
        "account name (acct)",
        "Status",
        "status (b)",
        "Status (b) (c)",
    ]
    assert plan.sources == [[None, None, 0, 1, 2, 3, 4]]


def test_a_column_of_json_numbers_is_kept_as_it_is() -> None:
    values: list[Any] = [1, None, Decimal("2.50")]
    settled = settle_column(values)
    assert settled.numeric and settled.cells is values and settled.stray is None


@pytest.mark.parametrize(
    ("values", "cells", "numeric"),
    [
        (["1", "2.50", "", None], [1, Decimal("2.50"), None, None], True),
        (["a", "", None, "b"], ["a", None, None, "b"], False),
        ([None, None], [None, None], False),
        ([True, False], ["true", "false"], False),
        ([{"a": 1}, "x"], ['{"a": 1}', "x"], False),
        ([1.5, 2], [Decimal("1.5"), 2], True),
        (["x", 7, "y"], ["x", "7", "y"], False),  # mostly text: no warning either
    ],
)
def test_settle_column_decides_numbers_or_text(
    values: list[Any], cells: list[Any], numeric: bool
) -> None:
    settled = settle_column(values)
    assert (settled.cells, settled.numeric, settled.stray) == (cells, numeric, None)


def test_a_mostly_numeric_column_with_one_text_value_is_text_and_names_it() -> None:
    settled = settle_column([Decimal("1.10"), "1,234.56", 3, None, "n/a", "4"])
    assert settled.cells == ["1.10", "1,234.56", "3", None, "n/a", "4"]
    assert (settled.numeric, settled.stray, settled.strays) == (False, 1, 2)


@pytest.mark.parametrize(
    ("values", "index"),
    [
        ([1, Decimal("1E+100000000")], 1),
        (["1", "1e400"], 1),
        (["x", "1" * 5000], 1),  # also in a text column: a number out of range is refused
        ([None, 10**30], 1),
        ([True, "2", Decimal("1E-400")], 2),
    ],
)
def test_settle_column_refuses_numbers_beyond_the_bounds_with_their_index(
    values: list[Any], index: int
) -> None:
    with pytest.raises(NumberOutOfRange) as caught:
        settle_column(values)
    assert caught.value.index == index


def test_ads_table_rows_groups_and_derived_ratios() -> None:
    meta = platform(
        "Meta",
        [("Clicks", "clicks"), ("Spend", "spend"), ("Cost per Click", "cpc")],
        {
            "Dup": [{"clicks": 10, "spend": Decimal("5.50"), "cpc": Decimal("0.55")}],
            "Empty": [],
        },
    )
    ga4 = platform(
        "GA4",
        [("Spend", "cost"), ("Clicks", "clicks")],
        {"Dup": [{"cost": "3", "clicks": 4}, {"cost": 1, "clicks": 0}]},
    )
    ads = ads_table([meta, ga4], ReportSpec(None), "All")
    assert ads.table.columns == ["Platform", "Account Name", "Clicks", "Spend", "Cost per Click"]
    assert ads.table.numeric == [False, False, True, True, True]
    assert ads.table.rows == [
        ["Meta", "Dup", 10, Decimal("5.50"), Decimal("0.55")],
        ["GA4", "Dup", 4, 3, Decimal("0.75")],
        ["GA4", "Dup", 0, 1, None],
    ]
    # Groups are row ranges of the table.
    assert [(prefix, list(rows)) for prefix, rows in ads.by_account] == [
        (["Meta", "Dup"], [0]),
        (["Meta", "Empty"], []),
        (["GA4", "Dup"], [1, 2]),
    ]
    by_platform = [(prefix, list(rows)) for prefix, rows in ads.by_platform]
    assert by_platform == [(["Meta", None], [0]), (["GA4", None], [1, 2])]
    assert ads.table.warnings == []


def test_ads_table_warns_naming_column_value_and_account() -> None:
    data = platform(
        "Facebook Ads",
        [("Spend", "spend"), ("Clicks", "clicks")],
        {
            "Jorginho": [{"spend": 1, "clicks": 1}, {"spend": 2, "clicks": 2}],
            "Ana": [{"spend": "1,234.56", "clicks": 3}],
        },
    )
    ads = ads_table([data], ReportSpec("p"), "P")
    assert ads.table.warnings == [
        "column 'Spend' is text, not numbers: '1,234.56' in the insights of Facebook Ads "
        "account 'Ana' is not a number, so summaries leave it empty"
    ]
    summary = summarize(
        ads.table, ads.by_account, "recompute", spec=ReportSpec("p", summary=True), title=""
    )
    assert summary.warnings == ads.table.warnings
    assert [row[2:] for row in summary.rows] == [[None, 3], [None, 3]]


@pytest.mark.parametrize("value", [Decimal("1E+100000000"), "1e400", "9" * 5000, 10**22])
def test_a_number_beyond_the_bounds_is_a_bad_payload_naming_field_and_account(
    value: object,
) -> None:
    data = platform(
        "Facebook Ads",
        [("Ad Name", "name"), ("Spend", "spend")],
        {"Ana": [{"name": "a", "spend": 1}], "Jorginho": [{"name": "b", "spend": value}]},
    )
    with pytest.raises(UpstreamBadPayload) as caught:
        ads_table([data], ReportSpec("p"), "P")
    assert caught.value.status == 502
    assert caught.value.call == "insights of Facebook Ads account 'Jorginho'"
    assert caught.value.reason.startswith("Spend value ")
    assert "is out of range" in caught.value.reason and len(caught.value.reason) < 250


def test_summaries_sum_beyond_1e22_exactly() -> None:
    big = Decimal("987654321098765432109.87")
    data = platform(
        "P",
        [("Spend", "spend"), ("Clicks", "clicks"), ("Cost per Click", "cpc")],
        {"A": [{"spend": big, "clicks": 3, "cpc": 1}] * 20},
    )
    summary = whole([data], ReportSpec(None, summary=True))
    assert summary.rows == [
        ["P", None, Decimal("19753086421975308642197.40"), 60, Decimal("329218107032921810703.29")]
    ]


def test_summarize_keeps_the_chosen_columns_and_groups() -> None:
    data = platform(
        "P",
        [("Clicks", "clicks"), ("Impressions", "impressions"), ("CTR", "ctr"), ("Ad", "ad")],
        {"A": [{"clicks": 1, "impressions": 4, "ctr": 9, "ad": "x"}, {"clicks": 3, "ad": "y"}]},
    )
    ads = ads_table([data], ReportSpec("p"), "P").table
    groups = [(["x"], [0]), (["both"], [0, 1]), (["none"], [])]
    summary = summarize(
        ads, groups, "recompute", spec=ReportSpec("n", summary=True), title="t", columns=[5, 4, 2]
    )
    assert (summary.spec.name, summary.title) == ("n/resumo", "t")
    assert summary.columns == ["Ad", "CTR", "Clicks"]
    assert summary.numeric == [False, True, True]
    assert summary.rows == [["x", Decimal("0.25"), 1], ["both", 1, 4], ["none", None, None]]
    summed = summarize(
        ads, groups, "sum", spec=ReportSpec("n", summary=True), title="t", columns=[5, 4]
    )
    assert summed.rows == [["x", 9], ["both", 9], ["none", None]]


def test_building_pauses_the_garbage_collector_and_restores_it() -> None:
    data = platform("P", [("Clicks", "clicks")], {"A": [{"clicks": 1}]})
    assert gc.isenabled()
    ads_table([data], ReportSpec("p"), "P")
    assert gc.isenabled()
    gc.disable()
    try:
        ads_table([data], ReportSpec("p"), "P")
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


def test_overlapping_builds_leave_the_garbage_collector_on() -> None:
    data = platform("P", [("Clicks", "clicks")], {"A": [{"clicks": i} for i in range(2000)]})
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda _: ads_table([data], ReportSpec("p"), "P").table, range(40)))
    assert gc.isenabled()
    assert all(t.rows == tables[0].rows for t in tables)


@pytest.mark.parametrize(
    ("values", "stray", "strays"),
    [
        (["1", "2", "x", "", None, "3"], 2, 1),  # mostly numeric strings
        (["2024", "Promo", "Sale", "2"], None, 0),  # text with some numeric names
        (["1", "x"], None, 0),  # a tie is not "mostly"
    ],
)
def test_text_columns_with_numeric_strings_warn_only_when_mostly_numbers(
    values: list[Any], stray: int | None, strays: int
) -> None:
    settled = settle_column(values)
    assert settled.cells == [None if v == "" else v for v in values]
    assert (settled.numeric, settled.stray, settled.strays) == (False, stray, strays)
