"""The five reports as pure functions: fetched upstream data in, a ``Table`` out.

Rows are grouped by (platform, account id), never by name; ids and tokens never reach a cell.
Columns come from field labels merged case-insensitively, in upstream order of first use.

Three steps, each a pure function tested on its own: ``layout`` decides the columns from the
fields alone; ``ads_table`` fills them column by column, where ``settle_column`` decides whether
a column holds numbers or text; ``summarize`` aggregates groups of ad rows. The work per cell
runs in C (``map``, ``zip``, ``set``) wherever the data allows it: a report of a million rows
must not cost a Python call per cell.

A report never changes its meaning silently. A number beyond the bounds of ``numbers`` is
refused (502, naming the field and the account). A column that is mostly numbers but holds a
value that is not one (``"1,234.56"``) is shown as text, as the upstream wrote it, and its
summaries stay empty: the table then carries a warning naming the column, the value and the
account, which every format shows. Refusing would cost the reader the whole report for one
cell; guessing a locale would invent numbers.
"""

from __future__ import annotations

import gc
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, DecimalException, localcontext
from functools import partial
from itertools import repeat
from operator import is_not, itemgetter
from typing import Any

from ..errors import UpstreamBadPayload
from ..records import Field, PlatformData
from .metrics import DERIVED_PER_AD, RATIOS, label_key
from .names import RatioMode
from .numbers import (
    ARITHMETIC,
    Number,
    NumberOutOfRange,
    check_numbers,
    format_number,
    looks_numeric,
    parse_number,
    ratio,
    shown,
)
from .spec import ReportSpec
from .table import Cell, Table

PLATFORM = "Platform"
ACCOUNT = "Account Name"
# A field labelled like one of these first columns keeps its data under "Label (key)".
_LEADING = frozenset({label_key(PLATFORM), label_key(ACCOUNT)})

# A summary row's leading cells, and the indices of the ad rows it aggregates.
Group = tuple[list[Cell], list[int]]


@dataclass(frozen=True)
class Ads:
    """The ad rows of a report, and the default groups of its two summaries."""

    table: Table  # the ad rows (Platform, Account Name, fields...)
    by_account: list[Group]  # /{platform}/resumo: accounts without ads get an empty list
    by_platform: list[Group]  # /geral/resumo


def platform_ads(data: PlatformData) -> Table:
    """``/{platform}``: one row per ad of one platform."""
    spec = ReportSpec(data.platform.value)
    return ads_table([data], spec, f"{data.platform.label}: ads").table


def platform_summary(data: PlatformData, ratios: RatioMode = "recompute") -> Table:
    """``/{platform}/resumo``: one row per account of one platform."""
    spec = ReportSpec(data.platform.value, summary=True)
    ads = ads_table([data], spec.ads, "")
    title = f"{data.platform.label}: summary by account"
    return summarize(ads.table, ads.by_account, ratios, spec=spec, title=title)


def general_ads(data: Sequence[PlatformData]) -> Table:
    """``/geral``: one row per ad of every platform."""
    return ads_table(data, ReportSpec(None), "All platforms: ads").table


def general_summary(data: Sequence[PlatformData], ratios: RatioMode = "recompute") -> Table:
    """``/geral/resumo``: one row per platform."""
    ads = ads_table(data, ReportSpec(None), "")
    spec = ReportSpec(None, summary=True)
    return summarize(ads.table, ads.by_platform, ratios, spec=spec, title="All platforms: summary")


# --- layout: the columns, from the fields alone ------------------------------------------------


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


# --- one column: numbers or text ---------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """A column's cells as the report shows them, and whether they are numbers."""

    cells: list[Cell]
    numeric: bool
    # A mostly numeric column that is text because of some values: the first of them, by
    # index, and how many there are. The report warns about it.
    stray: int | None = None
    strays: int = 0


_NONE = type(None)
_FAST_NUMBERS = {int, Decimal, _NONE}
_FAST_TEXT = {str, _NONE}
_not_none = partial(is_not, None)
_EMPTY_IS_NONE: dict[Any, Cell] = {"": None}


def settle_column(values: list[Any]) -> Settled:
    """Decide whether a column is numeric (every non-empty value is a number, and there is
    one) and convert its values to cells accordingly: numbers (numeric text parsed), or text.

    Empty strings become None. ``NumberOutOfRange`` (with ``index``) for a number beyond the
    bounds, in any column. ``values`` may be returned as the cells.
    """
    kinds = set(map(type, values))
    if kinds <= _FAST_NUMBERS:  # JSON numbers: checked in bulk, kept as they are
        check_numbers(values)
        return Settled(values, numeric=len(kinds - {_NONE}) > 0)
    if kinds <= _FAST_TEXT:  # strings: each distinct one is looked at once
        distinct = set(values)
        has_empty = "" in distinct
        distinct.discard(None)
        distinct.discard("")
        numeric = [text for text in distinct if looks_numeric(text)]
        if not numeric:
            cells = list(map(_EMPTY_IS_NONE.get, values, values)) if has_empty else values
            return Settled(cells, numeric=False)
        parsed: dict[Any, Cell] = {None: None, "": None}
        for text in numeric:
            try:
                parsed[text] = parse_number(text)
            except NumberOutOfRange as exc:
                exc.index = values.index(text)
                raise
        if len(numeric) == len(distinct):
            return Settled(list(map(parsed.__getitem__, values)), numeric=True)
        # Text with some numeric strings (an ad named "2024"): text; a warning if mostly numbers.
        cells = list(map(_EMPTY_IS_NONE.get, values, values)) if has_empty else values
        counts = Counter(values)
        found = sum(counts[text] for text in numeric)
        others = len(values) - found - counts[None] - counts[""]
        if found <= others:
            return Settled(cells, numeric=False)
        stray = next(i for i, v in enumerate(values) if v not in parsed)
        return Settled(cells, False, stray, others)
    return _settle_slowly(values)


def _settle_slowly(values: list[Any]) -> Settled:
    """``settle_column`` for mixed columns (numbers and text, booleans, objects): per cell."""
    numbers: list[Cell] = []
    others: list[int] = []
    for index, value in enumerate(values):
        try:
            number = None if value is None or value == "" else parse_number(value)
        except NumberOutOfRange as exc:
            exc.index = index
            raise
        numbers.append(number)
        if number is None and value is not None and value != "":
            others.append(index)
    found = len(values) - numbers.count(None)
    if not others:
        return Settled(numbers, numeric=found > 0)
    cells: list[Cell] = [None if v is None or v == "" else _as_text(v) for v in values]
    if found > len(others):  # mostly numbers: say why the column is text
        return Settled(cells, False, others[0], len(others))
    return Settled(cells, numeric=False)


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    number = parse_number(value)
    return str(value) if number is None else format_number(number)


# --- the ad table ------------------------------------------------------------------------------


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
    with _gc_paused():
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


def insights_call(platform: str, account: str) -> str:
    """An account's insights call, in words: "insights of Facebook Ads account 'Jorginho'"."""
    return f"insights of {platform} account {account!r}"


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


# The garbage collector is paused while a table is built: building allocates one list per row,
# and every few hundred allocations the collector would walk all of them (half the build time
# at 300k rows); it catches up once, when the pause ends. The pause is process-wide, so one
# build at a time holds it: with builds overlapping under load, a shared pause could keep the
# collector off for good. A build that finds the pause taken runs with the collector on.
_gc_pause = threading.Lock()


@contextmanager
def _gc_paused() -> Iterator[None]:
    if not _gc_pause.acquire(blocking=False):
        yield
        return
    try:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if was_enabled:
                gc.enable()
    finally:
        _gc_pause.release()


# --- summaries ---------------------------------------------------------------------------------

_Rows = list[list[Cell]]


def summarize(
    ads: Table,
    groups: Sequence[Group],
    ratios: RatioMode,
    *,
    spec: ReportSpec,
    title: str,
    columns: list[int] | None = None,
) -> Table:
    """One row per group: its leading cells, then the aggregated ``columns`` that follow them
    (indices into ``ads``; default all). Numbers are summed exactly; ratios are recomputed
    from their summed components (``ratios="recompute"``) or summed; text is left empty.

    ``UpstreamBadPayload`` if a sum cannot be exact in ``numbers.ARITHMETIC`` (never, for
    numbers within the bounds).
    """
    chosen = list(range(len(ads.columns))) if columns is None else list(columns)
    column_of = {label_key(label): i for i, label in enumerate(ads.columns)}
    aggregators = {c: _aggregator(ads, c, ratios, column_of) for c in chosen}
    out: list[list[Cell]] = []
    with _gc_paused(), localcontext(ARITHMETIC):
        for prefix, indices in groups:
            rows = list(map(ads.rows.__getitem__, indices))
            row = list(prefix)
            for c in chosen[len(prefix) :]:
                try:
                    row.append(aggregators[c](rows))
                except DecimalException:
                    raise UpstreamBadPayload(
                        _group_call(prefix),
                        f"the sum of {ads.columns[c]!r} does not fit {ARITHMETIC.prec} digits",
                    ) from None
            out.append(row)
    return Table(
        spec,
        title,
        [ads.columns[c] for c in chosen],
        [ads.numeric[c] for c in chosen],
        out,
        list(ads.warnings),
    )


def _group_call(prefix: list[Cell]) -> str:
    """The calls behind a summary row, in words."""
    match prefix:
        case [str(platform), str(account)]:
            return insights_call(platform, account)
        case [str(platform), *_]:
            return f"insights of {platform}"
    return f"summary row {prefix!r}"


def _aggregator(
    ads: Table, index: int, ratios: RatioMode, column_of: dict[str, int]
) -> Callable[[_Rows], Cell]:
    """How a summary fills column ``index`` from a group of ad rows."""
    if not ads.numeric[index]:
        return lambda rows: None  # text: summaries leave it empty
    definition = RATIOS.get(label_key(ads.columns[index])) if ratios == "recompute" else None
    if definition is None:
        return partial(_sum, itemgetter(index))
    numerator = column_of.get(definition.numerator or "")
    denominator = column_of.get(definition.denominator or "")
    if numerator is None or denominator is None:
        return lambda rows: None  # a ratio with no components in the data
    if not (ads.numeric[numerator] and ads.numeric[denominator]):
        return lambda rows: None
    top, bottom = itemgetter(numerator), itemgetter(denominator)

    # One rule for every group (summaries, _by, totals, charts): the ratio of the group's
    # summed components wherever they exist, whether or not its ads served the ratio itself
    # (Google Analytics and TikTok serve no Clickthrough Rate, yet have Clicks and Impressions).
    def recompute(rows: _Rows) -> Cell:
        return ratio(_sum(top, rows), _sum(bottom, rows))

    return recompute


def _sum(cell: Callable[[list[Cell]], Cell], rows: _Rows) -> Number | None:
    values = list(filter(_not_none, map(cell, rows)))
    return sum(values) if values else None  # type: ignore[arg-type]
