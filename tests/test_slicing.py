"""Slicing by URL options, as pure functions over the real dataset's tables: exact rows, exact
sums. The expected values come from the golden CSVs (an independent reading) or the captured
totals of stract-api.md."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from stract_reports.render.csv import render_csv
from stract_reports.reports.filters import Filter
from stract_reports.reports.numbers import ratio
from stract_reports.reports.selection import select_ads
from stract_reports.reports.slice_options import Slice, parse_slice
from stract_reports.reports.slicing import BadOption, PastTheEnd, slice_report
from stract_reports.urls import query_with
from support import REPORTS, golden
from tables import general, general_summary, platform

# Sums over the ads, as captured (stract-api.md): clicks, impressions, spend.
CAPTURED = {
    "Facebook Ads": (250977, 206806, Decimal("190803.63")),
    "Google Analytics": (70365, 86875, Decimal("56484.31")),
    "TikTok": (41717, 53125, Decimal("45602.28")),
}


def golden_dicts(report: str) -> list[dict[str, str]]:
    """The golden CSV of ``report`` as dicts by header."""
    return list(csv.DictReader(io.StringIO(golden(report).decode("utf-8"), newline="")))


def csv_dicts(table: object) -> list[dict[str, str]]:
    """A table rendered as CSV, read back as dicts by header."""
    return list(csv.DictReader(io.StringIO(render_csv(table), newline="")))  # type: ignore[arg-type]


def sliced(report: str, query: list[tuple[str, str]], **kwargs: object) -> tuple[object, object]:
    """``report`` of the real dataset sliced by ``query``."""
    base, _, rest = report.partition("/")
    if base == "geral":
        ads, summary = general(), general_summary()
    else:
        ads, summary = platform(base)
    return slice_report(ads, parse_slice(query), summary=summary if rest else None, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("report", REPORTS)
def test_no_options_give_the_contract_report_byte_for_byte(report: str) -> None:
    table, page = sliced(report, [])

    assert render_csv(table).encode() == golden(report)  # type: ignore[arg-type]
    assert (page.total, page.offset, page.next) == (  # type: ignore[attr-defined]
        len(golden_dicts(report)),
        0,
        None,
    )


@pytest.mark.parametrize("label", ["Platform", "platform", " PLATFORM "])
def test_filter_keeps_exactly_the_rows_of_one_platform(label: str) -> None:
    table, page = sliced("geral", [(label, "TikTok")])
    rows = csv_dicts(table)

    assert len(rows) == 10 == page.total  # type: ignore[attr-defined]
    assert {row["Platform"] for row in rows} == {"TikTok"}
    assert rows == [row for row in golden_dicts("geral") if row["Platform"] == "TikTok"]
    assert sum(Decimal(row["Spend"]) for row in rows) == Decimal("45602.28")


@pytest.mark.parametrize("value", ["886", "886.0", "+886", "886.000"])
def test_numeric_filter_compares_numbers(value: str) -> None:
    rows = csv_dicts(sliced("geral", [("Clicks", value)])[0])

    assert [(row["Account Name"], row["Ad Name"]) for row in rows] == [("Jorginho", "Anúncio 9")]


def test_filters_are_anded_and_an_empty_value_matches_empty_cells() -> None:
    both = csv_dicts(sliced("geral", [("Country", "US"), ("Platform", "Google Analytics")])[0])
    no_objective = csv_dicts(sliced("geral", [("Objective", "")])[0])

    expected = [
        row
        for row in golden_dicts("geral")
        if row["Country"] == "US" and row["Platform"] == "Google Analytics"
    ]
    assert both == expected and len(both) == 3
    assert len(no_objective) == 24  # GA4's 14 and TikTok's 10 ads have no Objective
    assert {row["Platform"] for row in no_objective} == {"Google Analytics", "TikTok"}


def test_summary_aggregates_the_selected_ads() -> None:
    rows = csv_dicts(sliced("geral/resumo", [("Country", "BR")])[0])
    brazil = [row for row in golden_dicts("geral") if row["Country"] == "BR"]

    assert [row["Platform"] for row in rows] == list(CAPTURED)
    for row in rows:
        ads = [ad for ad in brazil if ad["Platform"] == row["Platform"]]
        for column in ("Clicks", "Impressions", "Spend"):
            assert Decimal(row[column]) == sum(Decimal(ad[column]) for ad in ads)
        spend = sum(Decimal(ad["Spend"]) for ad in ads)
        clicks = sum(int(ad["Clicks"]) for ad in ads)
        assert row["Cost Per Click"] == str(ratio(spend, clicks))
    assert rows[0]["Spend"] == "152553.07"


def test_filtered_summary_shows_only_the_groups_that_kept_ads() -> None:
    rows = csv_dicts(sliced("meta_ads/resumo", [("Country", "US")])[0])
    us_accounts = []
    for ad in golden_dicts("meta_ads"):
        if ad["Country"] == "US" and ad["Account Name"] not in us_accounts:
            us_accounts.append(ad["Account Name"])

    assert [row["Account Name"] for row in rows] == us_accounts
    assert us_accounts == ["Ronaldão", "Branco", "Dunga", "Zinhao", "Raí", "Romário", "Taffarel"]


def test_by_country_gives_per_country_totals_that_add_up_to_the_captured_ones() -> None:
    table, _ = sliced("geral/resumo", [("_by", "country")])
    rows = csv_dicts(table)

    assert table.title == "All platforms: summary by Country"  # type: ignore[attr-defined]
    assert table.columns == [  # type: ignore[attr-defined]
        "Country",
        "Clicks",
        "Impressions",
        "Spend",
        "Cost Per Click",
        "Clickthrough Rate",
        "Unique CTR",
    ]
    assert [
        (r["Country"], r["Clicks"], r["Impressions"], r["Spend"], r["Cost Per Click"]) for r in rows
    ] == [
        ("BR", "289830", "279480", "239268.14", "0.825546"),
        ("US", "73229", "67326", "53622.08", "0.732252"),
    ]
    for index, column in enumerate(("Clicks", "Impressions", "Spend")):
        total = sum(Decimal(row[column]) for row in rows)
        assert total == sum(totals[index] for totals in CAPTURED.values())


def test_by_keeps_first_appearance_order_and_an_empty_group() -> None:
    rows = csv_dicts(sliced("geral/resumo", [("_by", "Objective")])[0])

    assert [row["Objective"] for row in rows] == ["Conversion", "Lead", ""]
    empty = rows[2]
    assert int(empty["Clicks"]) == CAPTURED["Google Analytics"][0] + CAPTURED["TikTok"][0]


def test_by_on_a_platform_summary_with_a_filter_and_summed_ratios() -> None:
    table, _ = sliced("meta_ads/resumo", [("Status", "ACTIVE"), ("_by", "Objective")], ratios="sum")
    rows = csv_dicts(table)
    active = [ad for ad in golden_dicts("meta_ads") if ad["Status"] == "ACTIVE"]

    assert table.title == "Facebook Ads: summary by Objective"  # type: ignore[attr-defined]
    assert [row["Objective"] for row in rows] == ["Lead", "Conversion"]
    for row in rows:
        ads = [ad for ad in active if ad["Objective"] == row["Objective"]]
        assert Decimal(row["Clickthrough Rate"]) == sum(
            Decimal(a["Clickthrough Rate"]) for a in ads
        )


@pytest.mark.parametrize(
    ("report", "query", "message"),
    [
        ("geral", [("_by", "Country")], "_by groups summaries: ask /geral/resumo?_by=Country"),
        (
            "geral/resumo",
            [("_by", "Spend")],
            "_by groups by a text column: Platform, Account Name, Ad Name, Status, Objective, "
            "Country",
        ),
        ("geral/resumo", [("_by", "Nope")], "_by: no column 'Nope'; columns: Platform, "),
        ("geral", [("Nope", "1")], "filter: no column 'Nope'; columns: Platform, Account Name, "),
        ("geral", [("Clicks", "many")], "Clicks is a numeric column: 'many' is not a number"),
        ("geral", [("_sort", "Budget")], "_sort: no column 'Budget'; columns: Platform, "),
        ("geral/resumo", [("_by", "Country"), ("_sort", "Platform")], "columns: Country, Clicks"),
        ("ga4", [("_col", "Spend,Objective")], "_col: no column 'Objective'; columns: "),
        ("ga4", [("_col", "Spend"), ("_col", "spend")], "_col: column 'Spend' is asked twice"),
    ],
)
def test_options_the_report_cannot_apply_name_the_valid_ones(
    report: str, query: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(BadOption) as caught:
        sliced(report, query)

    assert message in str(caught.value)


def test_sort_orders_numbers_as_numbers_with_empty_cells_last_both_ways() -> None:
    golden_ctr = [row["Clickthrough Rate"] for row in golden_dicts("geral")]
    filled = sorted((Decimal(v) for v in golden_ctr if v), key=Decimal)

    up = [
        row["Clickthrough Rate"]
        for row in csv_dicts(sliced("geral", [("_sort", "clickthrough RATE ")])[0])
    ]
    down = csv_dicts(sliced("geral", [("_sort_desc", "Clickthrough rate")])[0])

    assert [Decimal(v) for v in up[:42]] == filled and up[42:] == [""] * 24
    assert [Decimal(r["Clickthrough Rate"]) for r in down[:42]] == filled[::-1]
    assert [r["Clickthrough Rate"] for r in down[42:]] == [""] * 24
    # Empty cells keep the report's order: GA4's ads, then TikTok's.
    assert [r["Platform"] for r in down[42:]] == ["Google Analytics"] * 14 + ["TikTok"] * 10


def test_sort_is_stable_and_text_ignores_case() -> None:
    rows = csv_dicts(sliced("geral", [("_sort_desc", "Platform")])[0])
    by_platform = {p: [r for r in golden_dicts("geral") if r["Platform"] == p] for p in CAPTURED}

    assert (
        rows
        == by_platform["TikTok"] + by_platform["Google Analytics"] + by_platform["Facebook Ads"]
    )


def test_sort_of_clicks_is_numeric_not_textual() -> None:
    clicks = [int(r["Clicks"]) for r in csv_dicts(sliced("geral", [("_sort", "Clicks")])[0])]

    assert clicks == sorted(int(r["Clicks"]) for r in golden_dicts("geral"))
    assert clicks[:3] == [543, 699, 857]


def test_columns_are_exactly_those_asked_in_that_order() -> None:
    comma, _ = sliced("tiktok_insights", [("_col", "spend,Account Name"), ("_col", "Clicks")])
    golden_rows = golden_dicts("tiktok_insights")

    assert comma.columns == ["Spend", "Account Name", "Clicks"]  # type: ignore[attr-defined]
    assert csv_dicts(comma) == [
        {"Spend": r["Spend"], "Account Name": r["Account Name"], "Clicks": r["Clicks"]}
        for r in golden_rows
    ]


def test_sort_then_columns_then_a_page_give_a_top_three() -> None:
    table, page = sliced(
        "geral",
        [("_sort_desc", "Spend"), ("_col", "Platform,Ad Name,Spend"), ("_size", "3")],
    )

    assert render_csv(table) == (  # type: ignore[arg-type]
        "Platform,Ad Name,Spend\r\n"
        "Facebook Ads,Anúncio 1,9956.73\r\n"
        "TikTok,Anúncio 19,9805.5\r\n"
        "Facebook Ads,Anúncio 29,9772.25\r\n"
    )
    assert (page.total, page.size, page.next) == (66, 3, "3")  # type: ignore[attr-defined]


def test_pages_follow_their_next_tokens_to_the_whole_report() -> None:
    whole = csv_dicts(sliced("geral", [])[0])
    seen: list[dict[str, str]] = []
    token: str | None = "0"
    tokens = []
    while token is not None:
        table, page = sliced("geral", [("_size", "20"), ("_next", token)])
        seen += csv_dicts(table)
        token = page.next  # type: ignore[attr-defined]
        tokens.append(token)

    assert seen == whole
    assert tokens == ["20", "40", "60", None]


def test_default_page_size_applies_unless_size_is_asked() -> None:
    table, page = sliced("geral", [], page_size=50)
    asked, _ = sliced("geral", [("_size", "10")], page_size=50)
    last_rows, last = sliced("geral", [("_next", "50")], page_size=50)

    assert (len(table.rows), page.next) == (50, "50")  # type: ignore[attr-defined]
    assert len(asked.rows) == 10  # type: ignore[attr-defined]
    assert (len(last_rows.rows), last.next, last.offset) == (16, None, 50)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ([("_next", "500")], 66),
        ([("_next", "66")], 66),
        ([("Platform", "TikTok"), ("_next", "10")], 10),
        ([("Platform", "nobody"), ("_next", "1")], 0),
    ],
)
def test_a_page_past_the_end_is_no_page(query: list[tuple[str, str]], total: int) -> None:
    with pytest.raises(PastTheEnd) as caught:
        sliced("geral", query, page_size=50)
    rows = f"{total} row{'s' * (total != 1)}"
    assert str(caught.value) == (
        f"_next={query[-1][1]} is past the end: with these options the report has {rows}; "
        "its first page has no _next"
    )


def test_an_empty_selection_has_its_first_page() -> None:
    table, page = sliced("geral", [("Platform", "nobody"), ("_next", "0")])
    assert (table.rows, page.total, page.next) == ([], 0, None)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("report", "query", "counts"),
    [
        ("geral", [], (66, 66, 66)),
        ("geral", [("Platform", "TikTok"), ("_size", "3")], (10, 66, 66)),
        ("geral/resumo", [], (66, 66, 3)),
        ("geral/resumo", [("Country", "BR")], (54, 66, 3)),
        ("geral/resumo", [("_by", "Country")], (66, 66, 2)),
        ("geral/resumo", [("_by", "Objective"), ("Platform", "TikTok")], (10, 66, 3)),
        ("meta_ads/resumo", [("Platform", "nobody")], (0, 42, 11)),
    ],
)
def test_counts_say_how_many_ads_the_slice_kept_and_the_rows_before_filters(
    report: str, query: list[tuple[str, str]], counts: tuple[int, int, int]
) -> None:
    _, page = sliced(report, query)
    found = page.counts  # type: ignore[attr-defined]
    assert (found.ads, found.all_ads, found.unfiltered) == counts


def test_totals_sum_every_selected_row_and_recompute_ratios() -> None:
    _, page = sliced("geral", [("_size", "5")], totals=True)
    _, tiktok = sliced("geral", [("Platform", "TikTok")], totals=True)

    totals = dict(zip(general().table.columns, page.totals, strict=True))  # type: ignore[attr-defined]
    assert (totals["Platform"], totals["Ad Name"]) == (None, None)
    assert totals["Clicks"] == sum(c for c, _, _ in CAPTURED.values()) == 363059
    assert totals["Spend"] == Decimal("292890.22")
    assert totals["Cost Per Click"] == ratio(Decimal("292890.22"), 363059)
    assert tiktok.totals[4] == Decimal("45602.28")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([("_srot", "Spend")], "unknown option '_srot'; options: _col, _sort, _sort_desc, _size"),
        ([("_size", "10"), ("_size", "20")], "_size is given twice"),
        ([("_sort", "A"), ("_sort_desc", "B")], "give _sort or _sort_desc, not both"),
        ([("_size", "0")], "_size must be a page size: a whole number of at least 1"),
        ([("_size", "ten")], "_size must be a page size"),
        ([("_next", "-1")], "_next must be a page token"),
        ([("_next", "1e3")], "_next must be a page token"),
        ([("_next", "٣")], "_next must be a page token"),  # a digit, but not an ASCII one
        ([("_next", "1" * 13)], "_next must be a page token"),
    ],
)
def test_malformed_options_are_refused_before_anything_is_fetched(
    query: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(BadOption) as caught:
        parse_slice(query)

    assert message in str(caught.value)


def test_parse_reads_pairs_or_a_mapping_and_skips_the_other_options() -> None:
    pairs = [
        ("ratios", "sum"),
        ("key", "secret"),
        ("download", "1"),
        ("excel", "br"),
        ("_shape", "array"),
        ("Country", "BR"),
        ("_col", "Spend,Clicks"),
        ("_col", "Platform"),
        ("_sort_desc", "Spend"),
        ("_size", "5"),
        ("_next", "10"),
        ("_by", ""),  # empty: not given
        ("Status", "ACTIVE"),
    ]
    mapping = {
        "ratios": ["sum"],
        "Country": ["BR"],
        "_col": ["Spend,Clicks", "Platform"],
        "_sort_desc": ["Spend"],
        "_size": ["5"],
        "_next": ["10"],
        "Status": ["ACTIVE"],
    }
    expected = Slice(
        filters=(Filter("Country", "exact", "BR"), Filter("Status", "exact", "ACTIVE")),
        columns=("Spend,Clicks", "Platform"),
        sort="Spend",
        descending=True,
        size=5,
        offset=10,
        by=None,
    )

    assert parse_slice(pairs) == expected == parse_slice(mapping)
    assert parse_slice([]) == Slice()


def test_query_with_replaces_in_place_removes_and_appends() -> None:
    pairs = [("Country", "BR"), ("_next", "20"), ("key", "a b&c"), ("_next", "40")]

    assert query_with(pairs, {"_next": "60"}) == "Country=BR&_next=60&key=a+b%26c"
    assert (
        query_with(pairs, {"_next": None, "_sort": "Spend"}) == "Country=BR&key=a+b%26c&_sort=Spend"
    )
    assert query_with([], {}) == ""


@pytest.mark.parametrize("sort", [("_sort_desc", "Country"), ("_sort", "Objective")])
def test_pages_of_a_sorted_report_are_the_slices_of_the_whole_sort(sort: tuple[str, str]) -> None:
    whole = csv_dicts(sliced("geral", [sort])[0])
    pages = [
        csv_dicts(sliced("geral", [sort, ("_size", "7"), ("_next", str(offset))])[0])
        for offset in range(0, 66, 7)
    ]

    assert [row for page in pages for row in page] == whole
    # Ties keep the report's order.
    label = sort[1]
    original = golden_dicts("geral")
    for key in {row[label] for row in whole}:
        assert [r for r in whole if r[label] == key] == [r for r in original if r[label] == key]
    assert [row[label] for row in whole if row[label]][:1] == [
        "US" if "desc" in sort[0] else "Conversion"
    ]
    assert whole[-1][label] == ("BR" if "desc" in sort[0] else "")


def test_unsliced_reports_are_named_and_titled_by_what_they_show() -> None:
    shown = {}
    for report in ("geral", "geral/resumo", "meta_ads", "meta_ads/resumo", "ga4/resumo"):
        table = sliced(report, [])[0]
        shown[report] = (table.spec.name, table.title)  # type: ignore[attr-defined]
    assert shown == {
        "geral": ("geral", "All platforms: ads"),
        "geral/resumo": ("geral/resumo", "All platforms: summary"),
        "meta_ads": ("meta_ads", "Facebook Ads: ads"),
        "meta_ads/resumo": ("meta_ads/resumo", "Facebook Ads: summary by account"),
        "ga4/resumo": ("ga4/resumo", "Google Analytics: summary by account"),
    }


class _Passes:
    """A real column of the table, counting the passes made over its rows to filter them."""

    def __init__(self, column: Any) -> None:
        self.column = column
        self.passes = 0

    def equal_rows(self, value: Any, rows: Any = None) -> Any:
        self.passes += 1
        return self.column.equal_rows(value, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.column, name)


def _select(ads: Any, query: list[tuple[str, str]]) -> Any:
    """The ad rows the filters of ``query`` keep."""
    sl = parse_slice(query)
    return select_ads(ads.table, sl.filters, sl.search)


def test_many_filters_cost_one_pass_per_column_they_name() -> None:
    # 165 filters: the same three, many times (a hostile client's query). Each pass over the
    # rows runs in C; 165 of them cost 165 times one.
    ads = general()
    columns = [_Passes(column) for column in ads.table.data]
    counted = replace(ads, table=replace(ads.table, data=columns))
    filters = [("Platform", "Facebook Ads"), ("Country", "BR"), ("clicks", "886")] * 55

    kept = _select(counted, filters)

    assert kept == _select(ads, filters[:3])
    assert kept is not None and len(kept) == 1
    assert sum(column.passes for column in columns) == 3


def test_filters_that_contradict_each_other_keep_no_row_but_are_all_checked() -> None:
    ads = general()

    none = _select(ads, [("Country", "BR"), ("Country", "US")])
    same = _select(ads, [("Clicks", "886"), ("Clicks", "886.0")])

    assert none == [] and same is not None and len(same) == 1
    with pytest.raises(BadOption, match="filter: no column 'Nope'"):
        _select(ads, [("Country", "BR"), ("Country", "US"), ("Nope", "x")])
