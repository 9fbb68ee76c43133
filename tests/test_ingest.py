"""The ad table assembled page by page, column-wise, equals the table its definition gives (a
row-wise reference below: every column's values settled by ``columns.settle_column``, per-ad
ratios by ``numbers.ratio``): the same columns, numeric flags, cells, warnings and refusals,
whatever the pages' split and arrival order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.errors import UpstreamBadPayload
from stract_reports.records import (
    Account,
    AccountData,
    Field,
    Platform,
    PlatformData,
    insights_call,
)
from stract_reports.reports.columnar import NumberColumn
from stract_reports.reports.columns import settle_column
from stract_reports.reports.ingest import AdAssembly, AdColumns
from stract_reports.reports.layout import layout
from stract_reports.reports.numbers import NumberOutOfRange, parse_number, ratio, shown
from stract_reports.reports.words import TextColumn

PROPERTY = settings(max_examples=60, deadline=None)


class Expected:
    """The reference: columns, numeric flags, rows of cells and warnings of ``data``."""

    def __init__(self, data: list[PlatformData]) -> None:
        plan = layout([p.fields for p in data])
        self.columns = plan.columns
        spans = [(p, a) for p in data for a in p.accounts for _ in a.rows]
        values: list[list[Any]] = [[p.platform.label for p, _ in spans]]
        values.append([a.account.name for _, a in spans])
        for c in range(2, len(plan.columns)):
            values.append([])
            for sources, p in zip(plan.sources, data, strict=True):
                at = sources[c]
                values[c] += [None if at is None else row[at] for a in p.accounts for row in a.rows]
        self.numeric = [False] * len(plan.columns)
        self.warnings: list[str] = []
        targets = {d.column for derived in plan.derived for d in derived}
        for c in sorted(range(2, len(plan.columns)), key=targets.__contains__):
            if c in targets:  # from the settled components, for the platforms lacking it
                start = 0
                for derived, p in zip(plan.derived, data, strict=True):
                    stop = start + sum(len(a.rows) for a in p.accounts)
                    for d in (d for d in derived if d.column == c):
                        top = [
                            v if self.numeric[d.numerator] else parse_number(v)
                            for v in values[d.numerator][start:stop]
                        ]
                        bottom = [
                            v if self.numeric[d.denominator] else parse_number(v)
                            for v in values[d.denominator][start:stop]
                        ]
                        values[c][start:stop] = list(map(ratio, top, bottom))
                    start = stop
            try:
                settled = settle_column(values[c])
            except NumberOutOfRange as exc:
                p, a = spans[exc.index or 0]
                call = insights_call(p.platform.label, a.account.name)
                raise UpstreamBadPayload(call, f"{plan.columns[c]} value {exc}") from None
            values[c], self.numeric[c] = settled.cells, settled.numeric
            if settled.stray is not None:
                p, a = spans[settled.stray]
                more = settled.strays - 1
                also = f" (and {more} more value{'s' * (more > 1)})" if more else ""
                self.warnings.append(
                    f"column {plan.columns[c]!r} is text, not numbers: "
                    f"{shown(settled.cells[settled.stray])}{also} in the "
                    f"{insights_call(p.platform.label, a.account.name)} is not a number, so "
                    "summaries leave it empty"
                )
        self.rows = [list(row) for row in zip(*values, strict=True)] if values else []


LABELS = ["Spend", "spend ", "Clicks", "Impressions", "Cost per Click", "Platform", "Ad Name"]
decimals = st.builds(
    lambda digits, exponent, negative: Decimal((negative, tuple(map(int, str(digits))), exponent)),
    st.integers(0, 10**12),
    st.integers(-8, 2),
    st.booleans(),
)
numbers = st.one_of(st.none(), st.integers(-(10**6), 10**6), decimals)
numeric_text = st.sampled_from(["12.50", " 7 ", "1e3", "", "0", "-0.0", "+5", ".5"])
# Each field holds one style of values: the column's fate (numbers, text, mostly numbers with
# a warning, mixed kinds) follows from it.
STYLES = [
    numbers,
    st.one_of(st.none(), numeric_text),
    st.one_of(numeric_text, numeric_text, st.sampled_from(["1,234.56", "n/a"])),
    st.one_of(st.none(), st.sampled_from(["BR", "US", ""]), st.text(max_size=3)),
    st.one_of(numbers, numeric_text, st.sampled_from(["1,234.56", "BR"])),
]
rare = st.one_of(st.booleans(), st.just({"a": 1}), st.just([1]), st.just(10**40), st.just("1e999"))


@st.composite
def reports(draw: st.DrawFn) -> list[tuple[PlatformData, list[list[dict[str, Any]]]]]:
    """Platforms with fields and accounts, each account's rows split into pages."""
    out = []
    with_rare = draw(st.integers(0, 3)) == 0
    for p in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):  # a platform that lacks its Cost per Click, or one that has it
            labels = ["Spend", "Clicks"] if p % 2 else ["Cost per Click", "Clicks", "Spend"]
        else:
            labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=4))
        fields = [Field(f"k{p}{i}", label) for i, label in enumerate(labels)]
        styles = {f.key: draw(st.sampled_from(STYLES)) for f in fields}
        accounts, pages = [], []
        for a in range(draw(st.integers(0, 3))):
            rows = []
            for n in range(draw(st.integers(0, 6))):
                row = {
                    f.key: draw(st.one_of(styles[f.key], rare) if with_rare else styles[f.key])
                    for f in fields
                    if draw(st.integers(0, 5))
                }
                if draw(st.booleans()):
                    row["id"] = draw(st.one_of(st.integers(1, 9), st.text(max_size=2)))
                del n
                rows.append(row)
            cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=2)))
            bounds = [0, *cuts, len(rows)]
            pages.append([rows[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
            keys = [f.key for f in fields]
            account = Account(str(a), f"acc{a % 2}", "t")
            accounts.append(AccountData(account, [tuple(map(r.get, keys)) for r in rows]))
        out.append((PlatformData(Platform(f"p{p}", f"P{p}"), fields, accounts), pages))
    return out


def literal(value: Any) -> Any:
    """A Decimal as the decoder's ``float_literals`` leave it: its JSON literal's bytes."""
    return str(value).encode() if isinstance(value, Decimal) else value


def assemble(
    report: list[tuple[PlatformData, list[list[dict[str, Any]]]]],
    order: Any,
    literals: bool = False,
) -> AdColumns:
    if literals:
        report = [
            (
                data,
                [
                    [[{k: literal(v) for k, v in row.items()} for row in page] for page in split]
                    for split in pages
                ],
            )
            for data, pages in report
        ]
    assembly = AdAssembly()
    work = []
    for index, (data, pages) in enumerate(report):
        accounts = [(a.account.id, a.account.name) for a in data.accounts]
        assembly.platform(index, data.platform, data.fields, accounts)
        work += [
            (index, a, n, page) for a, split in enumerate(pages) for n, page in enumerate(split)
        ]
    for index, a, n, page in order(work):
        assembly.add(index, a, n, page)
    return assembly.finish()


@PROPERTY
@given(reports(), st.randoms(), st.booleans())
def test_the_columns_are_the_rows_build(report: Any, random: Any, literals: bool) -> None:
    """Also with float literals left as bytes by the decoder (``float_literals``)."""
    data = [d for d, _ in report]
    shuffle = lambda work: random.sample(work, len(work))  # noqa: E731
    try:
        expected = Expected(data)
    except UpstreamBadPayload as exc:
        with pytest.raises(UpstreamBadPayload) as caught:
            assemble(report, shuffle, literals)
        assert caught.value.title == exc.title
        return
    got = assemble(report, shuffle, literals)
    assert got.columns == expected.columns
    assert got.numeric == expected.numeric
    assert got.warnings == expected.warnings
    rows = range(len(expected.rows))
    assert len(got) == len(expected.rows)
    columns = [column.cells(rows) for column in got.data]
    assert [list(row) for row in zip(*columns, strict=True)] == expected.rows
    for column, numeric in zip(got.data, got.numeric, strict=True):
        assert isinstance(column, NumberColumn if numeric else TextColumn)
    # The digest is the content's: another arrival order, the same digest.
    assert assemble(report, list, literals).digest == got.digest


def test_identity_is_kept_per_row_never_as_a_column() -> None:
    fields = [Field("clicks", "Clicks")]
    assembly = AdAssembly()
    index = 0
    assembly.platform(index, Platform("m", "Meta"), fields, [("a1", "Ana"), ("a2", "Ana")])
    assembly.add(index, 1, 0, [{"id": 7, "clicks": 1}])
    assembly.add(index, 0, 1, [{"id": 9, "clicks": 3}])
    assembly.add(index, 0, 0, [{"id": 8, "clicks": 2}, {"clicks": 5}])
    table = assembly.finish()
    assert table.columns == ["Platform", "Account Name", "Clicks"]
    assert table.data[2].cells(range(4)) == [2, 5, 3, 1]
    assert [table.ad_key(row) for row in range(4)] == ["8", None, "9", "7"]
    assert [(s.account_id, s.start, s.stop) for s in table.spans] == [("a1", 0, 3), ("a2", 3, 4)]


@PROPERTY
@given(reports())
def test_rows_as_tuples_give_the_same_table(report: Any) -> None:
    data = [d for d, _ in report]
    try:
        expected = assemble(report, list)
    except UpstreamBadPayload:
        return
    assembly = AdAssembly()
    for platform in data:
        accounts = [(a.account.id, a.account.name) for a in platform.accounts]
        index = data.index(platform)
        assembly.platform(index, platform.platform, platform.fields, accounts)
        for n, account in enumerate(platform.accounts):
            ids = [row.get("id") for page in report[data.index(platform)][1][n] for row in page]
            assembly.add_rows(index, n, account.rows, ids)
    got = assembly.finish()
    rows = range(len(expected))
    assert (got.columns, got.numeric, got.warnings) == (
        expected.columns,
        expected.numeric,
        expected.warnings,
    )
    assert [c.cells(rows) for c in got.data] == [c.cells(rows) for c in expected.data]
    assert [got.ad_key(r) for r in rows] == [expected.ad_key(r) for r in rows]


@pytest.mark.parametrize(
    "column",
    [
        ["1", "2.50", "x", None, ""],  # strings, mostly numbers: text, with a warning
        ["1", "2.50", " 7 ", "", None],  # numeric strings: numbers
        ["1", "x", "y"],  # mostly text: text, no warning
        [1, Decimal("2.5"), None],  # JSON numbers
        [1, "2", "a", "b", "c"],  # mixed kinds, mostly text
        [1, "2", Decimal("3"), "a"],  # mixed kinds, mostly numbers
        [True, 1, 2],  # a boolean is text
        [None, None],  # nothing at all
    ],
)
def test_each_kind_of_column_settles_as_the_rows_build(column: list[Any]) -> None:
    fields = [Field("v", "Value")]
    rows = [{"v": v} for v in column]
    data = [PlatformData(Platform("p", "P"), fields, [AccountData(Account("1", "A", "t"), [])])]
    data[0].accounts[0].rows = [(v,) for v in column]
    expected = Expected(data)
    got = assemble([(data[0], [[rows[:2], rows[2:]]])], lambda work: work[::-1])
    assert (got.numeric, got.warnings) == (expected.numeric, expected.warnings)
    assert [[c] for c in got.data[2].cells(range(len(column)))] == [r[2:] for r in expected.rows]


@pytest.mark.parametrize("bad", [["1", "1e999"], [1, 10**40], ["a", "1e999", "b"]])
def test_a_number_beyond_the_bounds_is_refused_naming_field_and_account(bad: list[Any]) -> None:
    fields = [Field("v", "Value")]
    data = [PlatformData(Platform("p", "P"), fields, [AccountData(Account("1", "A", "t"), [])])]
    data[0].accounts[0].rows = [(v,) for v in bad]
    with pytest.raises(UpstreamBadPayload) as expected:
        Expected(data)
    with pytest.raises(UpstreamBadPayload) as got:
        assemble([(data[0], [[[{"v": v} for v in bad]]])], lambda work: work)
    assert str(got.value) == str(expected.value)


def test_a_ratio_a_platform_lacks_is_computed_per_ad_as_pages_arrive() -> None:
    meta = [Field("spend", "Spend"), Field("clicks", "Clicks"), Field("cpc", "Cost per Click")]
    ga4 = [Field("cost", "Spend"), Field("clicks", "Clicks")]
    meta_rows = [{"spend": Decimal("5.50"), "clicks": 10, "cpc": Decimal("0.55")}]
    ga4_rows = [
        {"cost": Decimal("3"), "clicks": 4},
        {"cost": Decimal("1.00"), "clicks": 3},
        {"cost": Decimal("2.5"), "clicks": 0},
        {"cost": Decimal("-1"), "clicks": 7},
        {"clicks": 2},
    ]
    data = [
        PlatformData(Platform("m", "Meta"), meta, [AccountData(Account("1", "A", "t"), [])]),
        PlatformData(Platform("g", "GA4"), ga4, [AccountData(Account("1", "B", "t"), [])]),
    ]
    data[0].accounts[0].rows = [tuple(map(r.get, ["spend", "clicks", "cpc"])) for r in meta_rows]
    data[1].accounts[0].rows = [tuple(map(r.get, ["cost", "clicks"])) for r in ga4_rows]
    expected = Expected(data)
    got = assemble([(data[0], [[meta_rows]]), (data[1], [[ga4_rows[:2], ga4_rows[2:]]])], list)
    cpc = got.columns.index("Cost per Click")
    assert got.data[cpc].cells(range(6)) == [row[cpc] for row in expected.rows]
    assert got.data[cpc].texts(range(6)) == ["0.55", "0.75", "0.333333", None, "-0.142857", None]


def test_the_digest_tells_tables_apart() -> None:
    fields = [Field("v", "Value"), Field("t", "Text")]
    tables = []
    for rows in (
        [{"v": 1, "t": "a"}, {"v": 2, "t": "b"}],
        [{"v": 1, "t": "b"}, {"v": 2, "t": "a"}],
        [{"v": 1, "t": "a"}, {"v": 2, "t": None}],
        [{"v": Decimal("1.0"), "t": "a"}, {"v": 2, "t": "b"}],
        [{"v": 1, "t": "a"}, {"v": 2, "t": "b"}, {}],
    ):
        data = PlatformData(Platform("p", "P"), fields, [AccountData(Account("1", "A", "t"), [])])
        tables.append(assemble([(data, [[rows]])], list).digest)
    assert len(set(tables)) == len(tables)
