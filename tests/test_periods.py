"""Reports over time in the pure core: the change between two states, a comparison, the periods
of a time series. Each checked against a computation written here from the raw rows: values by
field key, ads by identity, sums and ratios by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.reports.numbers import ratio
from stract_reports.reports.periods import (
    Identities,
    aligned,
    changes,
    compare,
    period_starts,
    stack_periods,
)
from stract_reports.reports.slice_options import parse_slice
from stract_reports.reports.slicing import arrange, report_source, select
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table

META = Platform("meta_ads", "Facebook Ads")
GA4 = Platform("ga4", "Google Analytics")
FIELDS = {
    # meta serves its own Cost per Click; GA4 does not (the report derives it per ad).
    "meta_ads": [
        Field("ad_name", "Ad Name"),
        Field("clicks", "Clicks"),
        Field("spend", "Spend"),
        Field("cpc", "Cost per Click"),
        Field("unique_ctr", "Unique CTR"),
    ],
    "ga4": [Field("ad_name", "Ad Name"), Field("clicks", "Clicks"), Field("cost", "Spend")],
}
GENERAL = ReportSpec(None)
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

# One state: per platform, per account id, per ad key, the row by field key.
State = dict[str, dict[str, dict[str, dict[str, Any]]]]

money = st.decimals(min_value=0, max_value=10_000, places=2)
count = st.integers(min_value=0, max_value=10_000)


@st.composite
def states(draw: st.DrawFn) -> tuple[State, State]:
    """Two states of the same accounts: ads that stay (their numbers grow, or not), appear and
    disappear, some values empty."""
    before: State = {}
    after: State = {}
    for platform in ("meta_ads", "ga4"):
        before[platform], after[platform] = {}, {}
        for account in ("1", "2"):
            keys = draw(st.lists(st.sampled_from("abcdef"), unique=True, max_size=4))
            later = draw(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=5))
            before[platform][account] = {k: draw(_row(platform, k)) for k in keys}
            after[platform][account] = {k: draw(_row(platform, k)) for k in later}
    return before, after


@st.composite
def _row(draw: st.DrawFn, platform: str, key: str) -> dict[str, Any]:
    row: dict[str, Any] = {"ad_name": f"Ad {key}", "clicks": draw(st.none() | count)}
    spend = draw(st.none() | money)
    if platform == "meta_ads":
        row["spend"] = spend
        row["cpc"] = draw(st.none() | money)
        row["unique_ctr"] = draw(st.none() | st.decimals(min_value=0, max_value=1, places=4))
    else:
        row["cost"] = spend
    return row


def data_of(state: State) -> list[PlatformData]:
    """A state as the fetch layer hands it over."""
    out = []
    for platform in (META, GA4):
        fields = FIELDS[platform.value]
        accounts = [
            AccountData(
                Account(account, f"Conta {account}", ""),
                [tuple(row.get(f.key) for f in fields) for row in ads.values()],
                list(ads),
            )
            for account, ads in state[platform.value].items()
        ]
        out.append(PlatformData(platform, fields, accounts))
    return out


def expected_change(before: State, after: State) -> list[dict[str, Any]]:
    """Per ad of ``after``, in report order: its change by column label, computed by hand."""
    rows = []
    for platform, label in (("meta_ads", "Facebook Ads"), ("ga4", "Google Analytics")):
        spend_key = "spend" if platform == "meta_ads" else "cost"
        for account, ads in after[platform].items():
            for key, row in ads.items():
                old = before[platform][account].get(key, {})

                def diff(field: str, row: dict[str, Any] = row, old: dict[str, Any] = old) -> Any:
                    now = row.get(field)
                    return None if now is None else now - (old.get(field) or 0)

                clicks, spend = diff("clicks"), diff(spend_key)
                rows.append(
                    {
                        "Platform": label,
                        "Account Name": f"Conta {account}",
                        "Ad Name": f"Ad {key}",
                        "Clicks": clicks,
                        "Spend": spend,
                        "Cost per Click": ratio(spend, clicks),
                        "Unique CTR": None,
                    }
                )
    return rows


def identities(ads: Any, data: list[PlatformData]) -> Any:
    """The ad identities of ``ads``, laid out from ``data``."""
    return Identities.of(ads, [p.platform.value for p in data]).ads


def by_label(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def change_of(before: State, after: State, spec: ReportSpec = GENERAL) -> Any:
    now, then = data_of(after), data_of(before)
    now_ads, summary = report_source(now, spec)
    then_ads, _ = report_source(then, spec)
    changed = changes(now_ads, identities(now_ads, now), then_ads, identities(then_ads, then))
    return changed, summary


@settings(max_examples=200, deadline=None)
@given(states())
def test_a_change_is_the_difference_per_ad_and_ratios_come_from_the_differences(
    pair: tuple[State, State],
) -> None:
    before, after = pair
    changed, _ = change_of(before, after)
    got = by_label(changed.table)
    want = expected_change(before, after)
    if not want:
        assert got == []
        return
    columns = changed.table.columns
    assert [{c: row.get(c) for c in want[0] if c in columns} for row in got] == [
        {c: row[c] for c in want[0] if c in columns} for row in want
    ]


@settings(max_examples=200, deadline=None)
@given(states())
def test_a_summary_of_a_change_adds_up_the_changes(pair: tuple[State, State]) -> None:
    before, after = pair
    changed, summary = change_of(before, after, ReportSpec(None, summary=True))
    table, _ = arrange(
        select(changed, parse_slice(()), None, summary=summary).table, parse_slice(())
    )
    want = expected_change(before, after)
    for row in by_label(table):
        mine = [r for r in want if r["Platform"] == row["Platform"]]
        clicks = [r["Clicks"] for r in mine if r["Clicks"] is not None]
        spend = [r["Spend"] for r in mine if r["Spend"] is not None]
        if "Clicks" in row:
            assert row["Clicks"] == (sum(clicks) if clicks else None)
        if "Spend" in row:
            assert row["Spend"] == (sum(spend) if spend else None)
        if "Cost per Click" in row:
            total_spend = sum(spend) if spend else None
            total_clicks = sum(clicks) if clicks else None
            assert row["Cost per Click"] == ratio(total_spend, total_clicks)


def test_a_change_over_the_real_shapes() -> None:
    before: State = {
        "meta_ads": {"1": {"a": {"ad_name": "A", "clicks": 10, "spend": Decimal("5.00")}}},
        "ga4": {"1": {"x": {"ad_name": "X", "clicks": 4, "cost": Decimal("2.00")}}},
    }
    after: State = {
        "meta_ads": {
            "1": {
                "a": {"ad_name": "A2", "clicks": 15, "spend": Decimal("8.00"), "cpc": Decimal(9)},
                "b": {"ad_name": "B", "clicks": 2, "spend": Decimal("1.00")},
            }
        },
        "ga4": {"1": {"x": {"ad_name": "X", "clicks": 4, "cost": Decimal("2.00")}}},
    }
    changed, _ = change_of(before, after)
    rows = [row[2:] for row in changed.table.rows]
    assert changed.table.columns[2:] == [
        "Ad Name",
        "Clicks",
        "Spend",
        "Cost per Click",
        "Unique CTR",
    ]
    assert rows == [
        ["A2", 5, Decimal("3.00"), Decimal("0.6"), None],  # text as it is now; CPC = 3 / 5
        ["B", 2, Decimal("1.00"), Decimal("0.5"), None],  # new: counted from zero
        ["X", 0, Decimal("0.00"), None, None],  # no clicks in the period: no CPC
    ]


def test_text_where_a_number_was_is_left_empty_and_said() -> None:
    fields = [Field("clicks", "Clicks")]

    def one(value: Any) -> list[PlatformData]:
        account = AccountData(Account("1", "Conta", ""), [(value,), (3,)], ["a", "b"])
        return [PlatformData(META, fields, [account])]

    now, then = one(10), one("n/a")
    now_ads, _ = report_source(now, ReportSpec("meta_ads"))
    then_ads, _ = report_source(then, ReportSpec("meta_ads"))
    changed = changes(now_ads, identities(now_ads, now), then_ads, identities(then_ads, then))
    assert [row[2] for row in changed.table.rows] == [None, 0]
    assert changed.table.warnings == [
        "column 'Clicks' held text at the start of the period in 1 ad: their change is left empty"
    ]


def test_compare_adds_the_change_and_the_relative_change_after_each_number() -> None:
    spec = ReportSpec(None, summary=True)
    now = Table.of_rows(
        spec,
        "t",
        ["Platform", "Clicks", "Spend"],
        [False, True, True],
        [["A", 12, Decimal("5.50")], ["B", 3, None], ["C", 1, Decimal("1.00")]],
    )
    then = Table.of_rows(
        spec,
        "t",
        ["Platform", "Spend", "Clicks"],  # another order: matched by label
        [False, True, True],
        [["C", Decimal("0"), 1], ["A", Decimal("5.00"), 10]],
    )
    got = compare(now, then, ["a", "b", "c"], ["c", "a"])
    assert got.columns == [
        "Platform",
        "Clicks",
        "Clicks Δ",
        "Clicks Δ%",
        "Spend",
        "Spend Δ",
        "Spend Δ%",
    ]
    assert got.numeric == [False, True, True, True, True, True, True]
    assert got.rows == [
        ["A", 12, 2, Decimal("0.2"), Decimal("5.50"), Decimal("0.50"), Decimal("0.1")],
        ["B", 3, None, None, None, None, None],  # not there then
        ["C", 1, 0, Decimal(0), Decimal("1.00"), Decimal("1.00"), None],  # then 0: no Δ%
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=1, max_value=24 * 30),
    st.sampled_from(["hour", "day", "week"]),
)
def test_periods_are_aligned_to_utc_and_cover_the_range(
    since: datetime, hours: int, grain: Any
) -> None:
    until = since + timedelta(hours=hours, minutes=7)
    bounds = period_starts(since, until, grain)
    assert bounds[0] == since and bounds[-1] == until
    assert bounds == sorted(set(bounds))
    for inner in bounds[1:-1]:
        assert aligned(inner, grain) == inner
        assert inner.minute == inner.second == inner.microsecond == 0
        if grain != "hour":
            assert inner.hour == 0
        if grain == "week":
            assert inner.weekday() == 0  # ISO weeks start on Monday
    # Every aligned start strictly inside the range is a boundary.
    assert len(bounds) - 2 == sum(1 for b in _every_start(since, until, grain) if since < b < until)


def _every_start(since: datetime, until: datetime, grain: str) -> Sequence[datetime]:
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    moment = aligned(since, grain)  # type: ignore[arg-type]
    out = []
    while moment <= until:
        out.append(moment)
        moment += step[grain]
    return out


def test_aligned_starts() -> None:
    wednesday = datetime(2026, 12, 2, 15, 42, 7, tzinfo=UTC)
    assert aligned(wednesday, "hour") == datetime(2026, 12, 2, 15, tzinfo=UTC)
    assert aligned(wednesday, "day") == datetime(2026, 12, 2, tzinfo=UTC)
    assert aligned(wednesday, "week") == datetime(2026, 11, 30, tzinfo=UTC)


def test_periods_stack_under_a_period_column() -> None:
    spec = ReportSpec(None, summary=True)
    empty = Table.of_rows(spec, "t", ["Platform", "Clicks"], [False, True], [], ["w"])
    a = Table.of_rows(spec, "t", ["Platform", "Clicks"], [False, True], [["A", 1], ["B", 2]], ["w"])
    b = Table.of_rows(spec, "t", ["Platform", "Clicks"], [False, True], [["A", 3]], ["w", "v"])
    stacked = stack_periods([("p1", a), ("p2", b)], empty)
    assert stacked.columns == ["Period", "Platform", "Clicks"]
    assert stacked.numeric == [False, False, True]
    assert stacked.rows == [["p1", "A", 1], ["p1", "B", 2], ["p2", "A", 3]]
    assert stacked.warnings == ["w", "v"]
    assert stack_periods([], empty).columns == ["Period", "Platform", "Clicks"]


@pytest.mark.parametrize("ads_keys", [None, ["7", "7#2"]])
def test_identities_follow_the_report_order(ads_keys: list[str] | None) -> None:
    account = AccountData(Account("9", "Conta", ""), [(1,), (2,)], ads_keys)
    other = AccountData(Account("3", "Outra", ""), [], [])
    data = [PlatformData(META, [Field("clicks", "Clicks")], [account, other])]
    ads, _ = report_source(data, ReportSpec("meta_ads"))
    ids = Identities.of(ads, ["meta_ads"])
    keys = ads_keys or ["1", "2"]
    assert ids.ads == [("meta_ads", "9", keys[0]), ("meta_ads", "9", keys[1])]
    assert ids.accounts == [("meta_ads", "9"), ("meta_ads", "3")]
    assert ids.platforms == ["meta_ads"]
