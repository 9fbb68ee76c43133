"""A key's scope: the rule that reads it, and the one function that narrows a read to it before
anything is laid out (the pure core; the served behaviour is in test_sharing.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stract_reports.errors import UnknownPlatform
from stract_reports.pipeline import Source, slice_source, source_of
from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.reports.ingest import AdAssembly
from stract_reports.reports.scoping import ScopedSink, narrow
from stract_reports.reports.slicing import report_source
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from stract_reports.scope import Scope, ScopeError
from tables import real_data, whole

META_1 = Scope(accounts=(("meta_ads", "1"),))


def scoped(data: list[PlatformData], spec: ReportSpec, scope: Scope) -> Source:
    """What records holding their rows show of ``spec`` within ``scope``."""
    return source_of(data, spec, [p.platform.value for p in data], scope=scope)


def whole_source(source: Source) -> Table:
    """The source's whole table, as the server cuts it without options."""
    return slice_source(source)[0]


def test_an_empty_scope_sees_everything() -> None:
    scope = Scope()
    assert scope.full and scope.reads_everything
    assert scope.sees_platform("ga4") and scope.sees_account("ga4", "9")
    assert scope.accounts_on("ga4") is None
    assert scope.describe() == "everything"


def test_accounts_alone_name_their_platforms_and_only_themselves() -> None:
    scope = Scope(accounts=(("meta_ads", "1"), ("meta_ads", "3"), ("ga4", "2")))
    assert not scope.reads_everything
    assert [scope.sees_platform(p) for p in ("meta_ads", "ga4", "tiktok_insights")] == [
        True,
        True,
        False,
    ]
    assert scope.accounts_on("meta_ads") == {"1", "3"} and scope.accounts_on("ga4") == {"2"}
    assert scope.sees_account("meta_ads", "3") and not scope.sees_account("meta_ads", "2")
    assert not scope.sees_account("tiktok_insights", "1")
    assert scope.describe() == "meta_ads: accounts 1, 3; ga4: accounts 2"


def test_a_named_platform_without_named_accounts_shows_all_of_them() -> None:
    scope = Scope(platforms=("meta_ads", "ga4"), accounts=(("meta_ads", "1"),), columns=("Spend",))
    assert scope.sees_account("ga4", "5") and scope.accounts_on("ga4") is None
    assert scope.sees_account("meta_ads", "1") and not scope.sees_account("meta_ads", "2")
    assert not scope.sees_platform("tiktok_insights")
    assert scope.describe() == "meta_ads: accounts 1; ga4: every account; columns: Spend"
    assert Scope(columns=("Spend",)).describe() == "every platform; columns: Spend"
    assert Scope(columns=("Spend",)).reads_everything


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"platforms": ("ga4",), "accounts": (("meta_ads", "1"),)}, "outside the scope's"),
        ({"columns": ("Spend", " spend ")}, "repeat"),
        ({"columns": ("Cost  per Click", "cost per click")}, "repeat"),
        ({"platforms": ("a\x1b[2J",)}, "printable"),
    ],
)
def test_a_scope_that_cannot_be_is_refused(scope: dict[str, object], message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        Scope(**scope)  # type: ignore[arg-type]


def _names(data: list[PlatformData]) -> list[tuple[str, list[str]]]:
    return [(p.platform.value, [a.account.name for a in p.accounts]) for p in data]


def test_narrowing_keeps_the_platforms_and_accounts_in_scope_in_upstream_order() -> None:
    data = list(real_data())
    assert narrow(data, None) == data and narrow(data, Scope()) == data
    scope = Scope(accounts=(("tiktok_insights", "2"), ("meta_ads", "3"), ("meta_ads", "1")))
    assert _names(narrow(data, scope)) == [
        ("meta_ads", ["Jorginho", "Ronaldão"]),
        ("tiktok_insights", ["Duda Lisboa"]),
    ]
    rows = {a.account.id: a.rows for a in data[0].accounts}
    narrowed = narrow(data, scope)[0]
    assert narrowed.fields == data[0].fields
    assert [a.rows for a in narrowed.accounts] == [rows["1"], rows["3"]]
    assert _names(narrow(data, Scope(platforms=("ga4",))))[0][1] == [
        "Nalbert Bitencourt",
        "Dante Amaral",
        "Sérgio Dutra Santos",
        "Giba",
        "Ricardinho",
        "Gustavo Endres",
    ]
    assert narrow(data, Scope(platforms=("youtube",))) == []


def test_narrowing_columns_drops_the_fields_and_their_values() -> None:
    data = list(real_data())
    meta = data[0]
    scope = Scope(columns=(" spend", "COUNTRY"))
    narrowed = narrow(data, scope)
    for before, after in zip(data, narrowed, strict=True):
        kept = [i for i, f in enumerate(before.fields) if f.label.lower() in ("spend", "country")]
        assert [f.label for f in after.fields] == [before.fields[i].label for i in kept]
        for a, b in zip(before.accounts, after.accounts, strict=True):
            assert b.rows == [tuple(row[i] for i in kept) for row in a.rows]
            assert b.ad_keys == a.ad_keys and b.digest is None
    # One column left: still one tuple per ad.
    (only,) = narrow([meta], Scope(columns=("Clicks",)))[0].fields
    assert only.key == "clicks"
    assert narrow([meta], Scope(columns=("Clicks",)))[0].accounts[0].rows == [
        (meta.accounts[0].rows[0][0],)
    ]


def test_a_field_labelled_like_a_leading_column_is_named_by_its_table_label() -> None:
    account = Account("1", "A", "token-aaaaaaaaaaa")
    data = [
        PlatformData(
            Platform("p", "P"),
            [Field("platform", "Platform"), Field("spend", "Spend")],
            [AccountData(account, [("x", 5)])],
        )
    ]
    assert [f.key for f in narrow(data, Scope(columns=("Platform", "Spend")))[0].fields] == [
        "spend"
    ]
    kept = narrow(data, Scope(columns=("Platform (platform)",)))[0]
    assert [f.key for f in kept.fields] == ["platform"] and kept.accounts[0].rows == [("x",)]
    ads = scoped(data, ReportSpec(None), Scope(columns=("Platform (platform)",))).ads
    assert ads.table.columns == ["Platform", "Account Name", "Platform (platform)"]


def test_the_scoped_table_is_the_full_one_filtered_and_its_columns_only_those_in_scope() -> None:
    data = list(real_data())
    full = whole(data, ReportSpec(None))
    scope = Scope(accounts=(("meta_ads", "1"),), columns=("Spend", "Clicks"))
    ads = scoped(data, ReportSpec(None), scope).ads.table
    assert ads.columns == ["Platform", "Account Name", "Clicks", "Spend"]
    picks = [full.columns.index(c) for c in ads.columns]
    expected = [
        [row[i] for i in picks]
        for row in full.rows
        if row[0] == "Facebook Ads" and row[1] == "Jorginho"
    ]
    assert ads.rows == expected == [["Facebook Ads", "Jorginho", 886, Decimal("6915.93")]]


def test_a_ratio_a_platform_lacks_is_computed_only_from_components_in_scope() -> None:
    data = list(real_data())
    both = ("meta_ads", "ga4")

    def cpc_of_ga4(columns: tuple[str, ...]) -> list[object]:
        table = scoped(data, ReportSpec(None), Scope(platforms=both, columns=columns)).ads.table
        cpc = table.columns.index("Cost Per Click")
        return [row[cpc] for row in table.rows if row[0] == "Google Analytics"]

    # GA4 serves no Cost per Click: /geral computes it from Spend and Clicks when those are in
    # scope too, and shows nothing computed from columns the key cannot see.
    assert all(cpc_of_ga4(("Cost per Click", "Spend", "Clicks")))
    assert cpc_of_ga4(("Cost per Click",)) == [None] * 14


def test_a_platform_report_the_scope_leaves_empty_is_an_unknown_platform() -> None:
    data = [p for p in real_data() if p.platform.value == "ga4"]
    with pytest.raises(UnknownPlatform, match="no platform 'ga4'; valid platforms: $"):
        scoped(data, ReportSpec("ga4"), META_1)
    assert scoped(data, ReportSpec("ga4"), Scope(platforms=("ga4",))).ads.table.rows


@pytest.mark.parametrize(
    "scope",
    [
        Scope(),
        META_1,
        Scope(platforms=("ga4", "meta_ads"), accounts=(("meta_ads", "8"),), columns=("Spend",)),
        Scope(columns=("Clicks", "spend", "Cost per click")),
        Scope(platforms=("youtube",)),
    ],
)
def test_a_live_read_and_records_become_the_same_table_within_a_scope(scope: Scope) -> None:
    # The two doors: pages through the scoped sink as they arrive (the live read, here fed
    # every account, as if the fetch had not narrowed), and records narrowed (the store).
    data = list(real_data())
    assembly = AdAssembly()
    sink = ScopedSink(assembly, scope)
    for position, p in reversed(list(enumerate(data))):  # platforms become known in any order
        accounts = [(a.account.id, a.account.name) for a in p.accounts]
        sink.platform(position, p.platform, p.fields, accounts)
        for index, a in enumerate(p.accounts):
            keys = a.ad_keys or [str(n) for n in range(1, len(a.rows) + 1)]
            items = [
                {**{f.key: v for f, v in zip(p.fields, row, strict=True)}, "id": int(key)}
                for row, key in zip(a.rows, keys, strict=True)
            ]
            sink.add(position, index, 1, items)
    assembled = assembly.finish()
    for spec in (ReportSpec(None), ReportSpec(None, summary=True)):
        live = whole_source(Source(*report_source(assembled, spec)))
        stored = whole_source(scoped(data, spec, scope))
        assert (live.columns, live.rows, live.warnings) == (
            stored.columns,
            stored.rows,
            stored.warnings,
        )
