"""Slicing a report by its URL, Datasette-style: an underscore names an option, anything else
a column.

- ``?{label}=value`` keeps the ad rows whose cell equals value (labels matched as columns are
  merged, case-insensitively and trimmed; numeric columns compare as numbers, so ``886`` and
  ``886.0`` match; an empty value matches empty cells). Repeatable; all must hold.
- ``?_by=Label`` (summaries): one row per distinct value of that text column, instead of the
  default per account / per platform, over the selected ads; columns: that label, then every
  numeric column; ratios recomputed as in the default summaries.
- Then, on the resulting table: ``?_sort=Label`` / ``?_sort_desc=Label`` (numbers as numbers,
  empty cells last both ways, stable), ``?_col=A,B`` (exactly those columns in that order;
  repeatable), and ``?_size=N&_next=TOKEN`` paging.

Filters select ad rows, so a summary aggregates the selected ads: ``/geral/resumo?Country=BR``
is the per-platform totals of BR ads. With a filter, a summary shows only the groups that kept
at least one ad. Pure functions: parse first (before any upstream call), apply to the fetched
data, raise ``BadOption`` (a 400) naming what is valid.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import not_

from ..records import PlatformData
from .ads import Ads, ads_of, ads_table
from .ingest import AdColumns
from .metrics import label_key
from .numbers import parse_number
from .options import OTHER_OPTIONS, SLICING_OPTIONS, RatioMode
from .spec import ReportSpec
from .summary import Group, summarize, totals
from .table import Cell, Table
from .words import Rows, TextColumn, gather

# A page token or size longer than this is no number we could have issued.
_MAX_DIGITS = 12

Query = Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


class BadOption(ValueError):
    """An option the report cannot apply; the message names the valid choices (HTTP 400)."""


@dataclass(frozen=True)
class Slice:
    """The slicing options of one request, parsed but not yet checked against the columns."""

    filters: tuple[tuple[str, str], ...] = ()  # (column label as given, value)
    columns: tuple[str, ...] = ()  # the ``_col`` values as given, each maybe a comma list
    sort: str | None = None
    descending: bool = False
    size: int | None = None  # None: the caller's default page size
    offset: int = 0  # where the page starts, from ``_next``
    by: str | None = None


@dataclass(frozen=True)
class Page:
    """Where a page of the sliced table sits: ``next`` is the ``_next`` token of the following
    page, None on the last one."""

    total: int  # rows of the sliced table, every page together
    offset: int
    size: int | None  # None: every row from ``offset``
    next: str | None
    totals: list[Cell] | None = field(default=None)  # per column over ``total`` rows, if asked

    @property
    def paged(self) -> bool:
        """Whether the table is cut into pages: a page follows this one or precedes it."""
        return self.next is not None or self.offset > 0


@dataclass(frozen=True)
class Summary:
    """A summary report: which one, what it summarises ("All platforms", "Facebook Ads"), its
    default groups (``Ads.by_platform`` or ``Ads.by_account``) and what they are by."""

    spec: ReportSpec
    subject: str
    groups: Sequence[Group]
    unit: str | None = None  # "account" -> "...: summary by account"; None -> "...: summary"

    def title(self, by: str | None = None) -> str:
        """The title of the summary, grouped by its default unit or by column ``by``."""
        unit = by or self.unit
        return f"{self.subject}: summary by {unit}" if unit else f"{self.subject}: summary"


def report_source(
    data: Sequence[PlatformData] | AdColumns, spec: ReportSpec
) -> tuple[Ads, Summary | None]:
    """What ``slice_report`` needs for the report ``spec``: its ads (of one platform, or every
    platform's for the general reports), from the assembled table of a read or from records
    holding their rows; and, for a summary, which one."""
    labels = data.platforms if isinstance(data, AdColumns) else [p.platform.label for p in data]
    subject = "All platforms" if spec.platform is None else labels[0]
    title = f"{subject}: ads"
    if isinstance(data, AdColumns):
        ads = ads_of(data, spec.ads, title)
    else:
        ads = ads_table(data, spec.ads, title)
    if not spec.summary:
        return ads, None
    if spec.platform is None:
        return ads, Summary(spec, subject, ads.by_platform)
    return ads, Summary(spec, subject, ads.by_account, "account")


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """The query as (name, value) pairs in order, from a mapping of lists or from pairs."""
    if isinstance(query, Mapping):
        return [(name, value) for name, values in query.items() for value in values]
    return list(query)


def parse_slice(query: Query, *, other: Iterable[str] = OTHER_OPTIONS) -> Slice:
    """The slicing options of ``query``; names in ``other`` are skipped. An empty value is an
    option not given. Raises ``BadOption`` on an unknown ``_option``, one given twice, or a
    size or page token that is not one."""
    skip = frozenset(other)
    filters: list[tuple[str, str]] = []
    columns: list[str] = []
    single: dict[str, str] = {}
    for name, value in query_pairs(query):
        if name in skip:
            continue
        if not name.startswith("_"):
            filters.append((name, value))
        elif name not in SLICING_OPTIONS:
            raise BadOption(f"unknown option {name!r}; options: {', '.join(SLICING_OPTIONS)}")
        elif not value:
            continue
        elif name == "_col":
            columns.append(value)
        elif name in single:
            raise BadOption(f"{name} is given twice")
        else:
            single[name] = value
    if "_sort" in single and "_sort_desc" in single:
        raise BadOption("give _sort or _sort_desc, not both")
    return Slice(
        filters=tuple(filters),
        columns=tuple(columns),
        sort=single.get("_sort") or single.get("_sort_desc"),
        descending="_sort_desc" in single,
        size=_count(single, "_size", "a page size", minimum=1),
        offset=_count(single, "_next", "a page token", minimum=0) or 0,
        by=single.get("_by"),
    )


def slice_report(
    ads: Ads,
    sl: Slice,
    *,
    summary: Summary | None = None,
    ratios: RatioMode = "recompute",
    page_size: int | None = None,
    totals: bool = False,
) -> tuple[Table, Page]:
    """The report sliced by ``sl``: ``ads.table`` itself, or ``summary`` of it; one page of
    ``sl.size`` rows (default ``page_size``; None: all). ``totals``: the Page carries a totals
    row of the whole sliced table (sums; ratios recomputed). Raises ``BadOption``."""
    table = select_rows(ads, sl, summary=summary, ratios=ratios)
    return arrange(table, sl, page_size=page_size, totals=totals)


def select_rows(
    ads: Ads, sl: Slice, *, summary: Summary | None = None, ratios: RatioMode = "recompute"
) -> Table:
    """Which rows: the ad rows ``sl``'s filters keep, or (``summary``) one row per group of
    them, by the summary's own groups or by ``sl.by``. Raises ``BadOption``."""
    source = ads.table
    selected = _select(source, sl.filters)
    if summary is None:
        if sl.by is not None:
            raise BadOption(f"_by groups summaries: ask /{source.spec.name}/resumo?_by={sl.by}")
        return source if selected is None else source.select(selected)
    if sl.by is not None:
        return _summary_by(source, sl.by, selected, summary, ratios)
    return summarize(
        source, _kept(summary.groups, selected), ratios, spec=summary.spec, title=summary.title()
    )


def arrange(
    table: Table, sl: Slice, *, page_size: int | None = None, totals: bool = False
) -> tuple[Table, Page]:
    """Sort, page and project: the page of ``table`` that ``sl`` asks for, its rows sorted by
    ``sl.sort`` and cut to ``sl.columns``, and where the page sits. Raises ``BadOption``."""
    # The output's labels are checked before sorting or totalling anything.
    sort_column = None if sl.sort is None else _column(table, sl.sort, "_sort")
    chosen = _columns(table, sl.columns) if sl.columns else None
    row_totals = _totals(table) if totals else None
    total = len(table)
    size = sl.size or page_size
    start = min(sl.offset, total)
    end = total if size is None else min(start + size, total)
    page = Page(total, start, size, str(end) if end < total else None, row_totals)
    rows = table.selection
    if sort_column is not None:
        rows = _ordered(table, sort_column, sl.descending, limit=end)
    if start != 0 or end != len(rows):
        rows = rows[start:end]
    if rows is not table.selection:
        table = table.select(rows)
    if chosen is None:
        return table, page
    chosen_totals = None if row_totals is None else [row_totals[c] for c in chosen]
    return table.project(chosen), replace(page, totals=chosen_totals)


def _kept(groups: Sequence[Group], selected: Rows | None) -> Sequence[Group]:
    """The groups with only their selected rows, those left without any dropped (None: every
    row is selected). ``selected`` is in ascending order, a group a range of rows."""
    if selected is None:
        return groups
    kept: list[Group] = []
    for prefix, rows in groups:
        if isinstance(rows, range) and rows.step == 1:
            first, last = bisect_left(selected, rows.start), bisect_left(selected, rows.stop)
            mine: Rows = selected[first:last]
        else:
            keep = set(selected)
            mine = [i for i in rows if i in keep]
        if mine:
            kept.append((prefix, mine))
    return kept


def _count(single: dict[str, str], name: str, what: str, *, minimum: int) -> int | None:
    text = single.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS or int(text) < minimum:
        raise BadOption(f"{name} must be {what}: a whole number of at least {minimum}")
    return int(text)


def _column(table: Table, label: str, option: str) -> int:
    """The index of the column labelled ``label`` (as columns are merged), or BadOption."""
    key = label_key(label)
    for index, name in enumerate(table.columns):
        if label_key(name) == key:
            return index
    raise BadOption(f"{option}: no column {label!r}; columns: {', '.join(table.columns)}")


def _columns(table: Table, values: Sequence[str]) -> list[int]:
    chosen: list[int] = []
    for value in values:
        # A label holding a comma is taken whole; otherwise a value may be a comma list.
        whole = {label_key(name) for name in table.columns}
        parts = [value] if label_key(value) in whole else value.split(",")
        for part in parts:
            index = _column(table, part, "_col")
            if index in chosen:
                raise BadOption(f"_col: column {table.columns[index]!r} is asked twice")
            chosen.append(index)
    return chosen


def _select(table: Table, filters: Sequence[tuple[str, str]]) -> Rows | None:
    """The rows every filter keeps, in the table's order; None without filters (every row)."""
    if not filters:
        return None
    wanted = [_wanted(table, label, value) for label, value in filters]
    rows = table.selection
    for index, value in wanted:
        rows = table.data[index].equal_rows(value, rows)  # type: ignore[arg-type]
    return rows


def _wanted(table: Table, label: str, value: str) -> tuple[int, Cell]:
    """A filter as (column, the cell it keeps): a number in a numeric column (``886`` and
    ``886.0`` alike), the text itself in a text column; an empty value keeps empty cells."""
    column = _column(table, label, "filter")
    wanted: Cell = value or None
    if value and table.numeric[column]:
        wanted = parse_number(value)
        if wanted is None:
            name = table.columns[column]
            raise BadOption(f"{name} is a numeric column: {value!r} is not a number")
    return column, wanted


def _summary_by(
    ads: Table, label: str, selected: Rows | None, summary: Summary, ratios: RatioMode
) -> Table:
    column = _column(ads, label, "_by")
    by = ads.data[column]
    if not isinstance(by, TextColumn):
        text = [name for name, numeric in zip(ads.columns, ads.numeric, strict=True) if not numeric]
        raise BadOption(f"_by groups by a text column: {', '.join(text)}")
    rows = ads.selection if selected is None else selected
    members: dict[int, list[int]] = {}  # by the cell's code, in order of first appearance
    for row, code in zip(rows, gather(by.codes, rows), strict=True):
        members.setdefault(code, []).append(row)
    groups: list[Group] = [([by.values[code]], rows) for code, rows in members.items()]
    numeric = [i for i, is_number in enumerate(ads.numeric) if is_number]
    name = ads.columns[column]
    return summarize(
        ads,
        groups,
        ratios,
        spec=summary.spec,
        title=summary.title(name),
        columns=[column, *numeric],
    )


def _ordered(table: Table, column: int, descending: bool, *, limit: int) -> Rows:
    """The table's rows ordered by ``column`` (numbers as numbers, text case-insensitively with
    ties by the text itself), equal keys in the table's order, empty cells last either way;
    only the first ``limit`` are needed, so a page of a large table comes from a heap."""
    data, selection = table.data[column], table.selection
    keys = data.sort_keys(selection)
    empty = data.is_empty(selection)
    filled = list(compress(range(len(selection)), map(not_, empty)))
    # Both ways are stable (heapq's n-smallest/largest are documented as the sorted prefix).
    if limit < len(filled):
        pick = heapq.nlargest if descending else heapq.nsmallest
        positions = pick(limit, filled, key=keys.__getitem__)
    else:
        positions = sorted(filled, key=keys.__getitem__, reverse=descending)
        positions += compress(range(len(selection)), empty)
    return [selection[p] for p in positions]


def _totals(table: Table) -> list[Cell]:
    """Sums of the numeric columns over every row, ratios recomputed; text columns empty."""
    (row,) = totals(table, [([], table.selection)], "recompute")
    return row


__all__ = [
    "BadOption",
    "Page",
    "Slice",
    "Summary",
    "arrange",
    "parse_slice",
    "query_pairs",
    "report_source",
    "select_rows",
    "slice_report",
]
