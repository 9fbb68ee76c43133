"""The ad table of a report: one row per ad, grouped by (platform, account id), never by name;
ids and tokens never reach a cell.

Two steps, each tested on its own: ``layout`` decides the columns from the fields alone (labels
merged case-insensitively, in upstream order of first use; ratios a platform lacks computed per
ad); ``ads_table`` fills them a column at a time, each column typed by ``columns``. The work per
cell runs in C (``map``, ``zip``, ``itemgetter``) wherever the data allows it: a report of a
million rows must not cost a Python call per cell.

A report never changes its meaning silently. A number beyond the bounds of ``numbers`` is
refused (502, naming the field and the account). A column that is mostly numbers but holds a
value that is not one is shown as text, as the upstream wrote it, and the table carries a
warning naming the column, the value and the account, which every format shows. Refusing would
cost the reader the whole report for one cell; guessing a locale would invent numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from operator import itemgetter
from typing import Any

from ..errors import UpstreamBadPayload
from ..records import Field, PlatformData, insights_call
from .collector import gc_paused
from .columns import Settled, settle_column
from .metrics import DERIVED_PER_AD, label_key
from .numbers import NumberOutOfRange, parse_number, ratio, shown
from .quality import Quality, inspect
from .spec import ReportSpec
from .summary import Group
from .table import Cell, Table

PLATFORM = "Platform"
ACCOUNT = "Account Name"
# A field labelled like one of these first columns keeps its data under "Label (key)".
_LEADING = frozenset({label_key(PLATFORM), label_key(ACCOUNT)})


@dataclass(frozen=True)
class Ads:
    """The ad rows of a report, and the default groups of its two summaries."""

    table: Table  # the ad rows (Platform, Account Name, fields...)
    by_account: list[Group]  # /{platform}/resumo: accounts without ads get an empty list
    by_platform: list[Group]  # /geral/resumo

    @cached_property
    def quality(self) -> Quality:
        """Which rows the upstream's numbers contradict themselves in: found on first use,
        then kept with the build that every request of the report shares."""
        rows = self.table.rows
        return inspect(
            self.table.columns,
            self.table.numeric,
            len(rows),
            lambda column: list(map(itemgetter(column), rows)),
        )


@dataclass(frozen=True)
class Derived:
    """A column an ad gets computed as numerator / denominator of two of its own fields."""

    column: int
    numerator: int  # columns too
    denominator: int


@dataclass(frozen=True)
class Layout:
    """The ad table's columns, and where each platform's values for them come from."""

    columns: list[str]  # labels: Platform, Account Name, then the fields' labels
    # Per platform, per column: the position of the field that fills it; None where the
    # platform has no such field (and for the two leading columns, which are not fields).
    sources: list[list[int | None]]
    derived: list[list[Derived]]  # per platform: ratios it lacks, computed per ad


def layout(fields: Sequence[Sequence[Field]]) -> Layout:
    """Columns of the ad table of platforms with these fields (each platform's, in order)."""
    columns = [PLATFORM, ACCOUNT]
    column_of: dict[str, int] = {label_key(PLATFORM): 0, label_key(ACCOUNT): 1}
    owns: list[dict[str, int]] = []  # per platform: label key -> position of its field
    for platform_fields in fields:
        own: dict[str, int] = {}
        for position, f in enumerate(platform_fields):
            label = " ".join(f.label.split())
            # Two fields of one platform sharing a label, or a field labelled like a leading
            # column: keep both, the later one named by its key too.
            while label_key(label) in own or label_key(label) in _LEADING:
                label = f"{label} ({f.key})"
            key = label_key(label)
            own[key] = position
            if key not in column_of:
                column_of[key] = len(columns)
                columns.append(label)
        owns.append(own)
    leading: list[int | None] = [None, None]
    sources = [leading + [own.get(label_key(c)) for c in columns[2:]] for own in owns]
    derived = [
        [
            Derived(column_of[name], column_of[r.numerator], column_of[r.denominator])
            for name, r in DERIVED_PER_AD.items()
            if name in column_of and name not in own and r.numerator in own and r.denominator in own
        ]
        for own in owns
    ]
    return Layout(columns, sources, derived)


@dataclass
class _Span:
    """The ad rows of one account: ``start``..``stop`` index the table's rows."""

    platform: int
    account: str
    start: int
    stop: int


def ads_table(data: Sequence[PlatformData], spec: ReportSpec, title: str) -> Ads:
    """The ad table of ``data`` (the report ``spec``), with its account and platform groups.

    ``UpstreamBadPayload`` naming the field and the account for a number beyond the bounds.
    """
    plan = layout([p.fields for p in data])
    with gc_paused():
        spans, flat = _accounts(data)
        columns = _raw_columns(data, plan, flat, spans)
        numeric, warnings = _settle_columns(columns, data, plan, flat, spans)
        rows = list(map(list, zip(*columns, strict=True)))
        # The collection due when the pause ends walks every young container: not these.
        del columns, flat
    by_account: list[Group] = [
        ([data[s.platform].platform.label, s.account], list(range(s.start, s.stop))) for s in spans
    ]
    by_platform: list[Group] = []
    for index, p in enumerate(data):
        mine = [s for s in spans if s.platform == index]
        by_platform.append(
            ([p.platform.label, None], list(range(mine[0].start, mine[-1].stop)) if mine else [])
        )
    return Ads(Table(spec, title, plan.columns, numeric, rows, warnings), by_account, by_platform)


_Flat = list[list[tuple[Any, ...]]]  # per platform: its ad rows, every account's, in order


def _accounts(data: Sequence[PlatformData]) -> tuple[list[_Span], _Flat]:
    """Where each account's rows are in the table, and each platform's rows in one list."""
    spans: list[_Span] = []
    flat: _Flat = []
    total = 0
    for index, p in enumerate(data):
        rows: list[tuple[Any, ...]] = []
        for account_data in p.accounts:
            count = len(account_data.rows)
            spans.append(_Span(index, account_data.account.name, total, total + count))
            total += count
            rows.extend(account_data.rows)
        flat.append(rows)
    return spans, flat


def _raw_columns(
    data: Sequence[PlatformData], plan: Layout, flat: _Flat, spans: list[_Span]
) -> list[list[Any]]:
    """Every column's values as the upstream sent them (None where a platform lacks it)."""
    columns: list[list[Any]] = [
        [p.platform.label for p, rows in zip(data, flat, strict=True) for _ in rows],
        [s.account for s in spans for _ in range(s.stop - s.start)],
    ]
    for column in range(2, len(plan.columns)):
        values: list[Any] = []
        for sources, rows in zip(plan.sources, flat, strict=True):
            position = sources[column]
            if position is None:
                values.extend(repeat(None, len(rows)))
            else:
                values.extend(map(itemgetter(position), rows))
        columns.append(values)
    return columns


def _settle_columns(
    columns: list[list[Any]],
    data: Sequence[PlatformData],
    plan: Layout,
    flat: _Flat,
    spans: list[_Span],
) -> tuple[list[bool], list[str]]:
    """Settle every field column in place; which are numeric, and the warnings."""
    numeric = [False] * len(plan.columns)
    warnings: list[str] = []
    targets = {d.column for platform in plan.derived for d in platform}
    # Derived ratios are computed from their components' settled columns: those go first.
    for column in sorted(range(2, len(plan.columns)), key=targets.__contains__):
        if column in targets:
            _fill_derived(columns, numeric, plan, flat, column)
        try:
            settled = settle_column(columns[column])
        except NumberOutOfRange as exc:
            account = _account_of(spans, exc.index or 0, data)
            raise UpstreamBadPayload(account, f"{plan.columns[column]} value {exc}") from None
        columns[column] = settled.cells
        numeric[column] = settled.numeric
        if settled.stray is not None:
            warnings.append(_stray_warning(plan.columns[column], settled, spans, data))
    return numeric, warnings


def _fill_derived(
    columns: list[list[Cell]],
    numeric: list[bool],
    plan: Layout,
    flat: _Flat,
    column: int,
) -> None:
    """Put the per-ad ratios of ``column`` into its values, for the platforms that lack it,
    from the settled cells of the numerator and denominator columns."""
    start = 0
    for derived, rows in zip(plan.derived, flat, strict=True):
        stop = start + len(rows)
        for d in derived:
            if d.column == column:
                top = columns[d.numerator][start:stop]
                bottom = columns[d.denominator][start:stop]
                # A text column (it holds some value that is no number) is read cell by cell.
                numerators: Iterable[Any] = top if numeric[d.numerator] else map(parse_number, top)
                denominators: Iterable[Any] = (
                    bottom if numeric[d.denominator] else map(parse_number, bottom)
                )
                columns[column][start:stop] = map(ratio, numerators, denominators)
        start = stop


def _account_of(spans: list[_Span], row: int, data: Sequence[PlatformData]) -> str:
    """The upstream call that brought ad row ``row``, in words."""
    span = next(s for s in spans if s.start <= row < s.stop)
    return insights_call(data[span.platform].platform.label, span.account)


def _stray_warning(
    label: str, settled: Settled, spans: list[_Span], data: Sequence[PlatformData]
) -> str:
    index = settled.stray or 0
    others = settled.strays - 1
    more = f" (and {others} more value{'s' * (others > 1)})" if others else ""
    return (
        f"column {label!r} is text, not numbers: {shown(settled.cells[index])}{more} in the "
        f"{_account_of(spans, index, data)} is not a number, so summaries leave it empty"
    )
