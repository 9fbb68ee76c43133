"""Slicing a report by its URL, Datasette-style: an underscore names an option, anything else
a column.

- ``?{label}=value`` keeps the ad rows whose cell equals value (labels matched as columns are
  merged, case-insensitively and trimmed; numeric columns compare as numbers, so ``886`` and
  ``886.0`` match; an empty value matches empty cells); ``?{label}__{op}=value`` applies one
  of Datasette's operators (``filters``); ``?_search=words`` keeps the ads whose text cells
  hold every word, in any case. Repeatable; all must hold.
- ``?_by=Label`` (summaries): one row per distinct value of that text column, instead of the
  default per account / per platform, over the selected ads; columns: that label, then every
  numeric column; ratios recomputed as in the default summaries.
- ``?_facet=Label`` (repeatable): how the selected ads spread over that column's values
  (``facets``); ``?_flags=1`` (ad tables): a ``Flags`` column naming each row's quality flags.
- Then, on the resulting table: ``?_sort=Label`` / ``?_sort_desc=Label`` (numbers as numbers,
  empty cells last both ways, stable), ``?_col=A,B`` (exactly those columns in that order;
  repeatable), and ``?_size=N&_next=TOKEN`` paging.

Filters select ad rows, so a summary aggregates the selected ads: ``/geral/resumo?Country=BR``
is the per-platform totals of BR ads. With a filter, a summary shows only the groups that kept
at least one ad. Pure functions: parse first (before any upstream call), apply to the fetched
data, raise ``BadOption`` (a 400) naming what is valid.

Parsing the options into a ``Slice`` is ``slice_options.py``; here a ``Slice`` is applied.
The table a slice gives carries the report's warnings, and the slice's own: the upstream's
inconsistencies among the selected ads (``quality``), and filters that matched nothing (with
the values they would match in another case).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import not_

from ..records import PlatformData
from .ads import Ads, ads_of, ads_table
from .facets import Facet
from .ingest import AdColumns
from .layout import ACCOUNT
from .metrics import label_key
from .options import RatioMode
from .quality import quality_warnings
from .selection import (
    BadOption,
    cells,
    column_index,
    facets_of,
    nothing_matched,
    select_ads,
    with_flags,
)
from .slice_options import Slice
from .spec import ReportSpec
from .summary import Group, summarize, totals
from .table import Cell, Table
from .words import Rows, TextColumn, gather


class PastTheEnd(ValueError):
    """``_next`` points past the last row of the sliced report: no such page (HTTP 404)."""


@dataclass(frozen=True)
class Counts:
    """How much of the report a slice kept: its ads, and its rows before any filter."""

    ads: int  # the ads the filters kept (a summary adds them up)
    all_ads: int  # the report's ads
    unfiltered: int  # the rows the report has without filters (ads, or a summary's groups)


@dataclass(frozen=True)
class Page:
    """Where a page of the sliced table sits: ``next`` is the ``_next`` token of the following
    page, None on the last one."""

    total: int  # rows of the sliced table, every page together
    offset: int
    size: int | None  # None: every row from ``offset``
    next: str | None
    totals: list[Cell] | None = field(default=None)  # per column over ``total`` rows, if asked
    counts: Counts | None = None  # None: a table not sliced from a report's ads
    facets: tuple[Facet, ...] = ()  # asked with ``_facet``, then those offered (``suggest``)
    filterable: tuple[str, ...] = ()  # the ad table's labels: what a filter may name

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


def slice_report(
    ads: Ads,
    sl: Slice,
    *,
    summary: Summary | None = None,
    ratios: RatioMode = "recompute",
    page_size: int | None = None,
    totals: bool = False,
    suggest: bool = False,
) -> tuple[Table, Page]:
    """The report sliced by ``sl``: ``ads.table`` itself, or ``summary`` of it; one page of
    ``sl.size`` rows (default ``page_size``; None: all). ``totals``: the Page carries a totals
    row of the whole sliced table (sums; ratios recomputed, or summed with ``ratios="sum"`` on
    a summary). ``suggest``: the Page also offers facets of the text columns with few values.
    Raises ``BadOption``, and ``PastTheEnd`` for a page after the last."""
    source = ads.table
    selected = select_ads(source, sl.filters, sl.search)
    facets = facets_of(source, sl.facets, selected, suggest, sl.filters)
    table = select_rows(ads, sl, selected, summary=summary, ratios=ratios)
    notes = nothing_matched(source, sl.filters, sl.search) if selected == [] else []
    notes += quality_warnings(ads.quality, selected, _accounts(source))
    if notes:
        table = replace(table, warnings=[*table.warnings, *notes])
    every = len(source)
    counts = Counts(
        every if selected is None else len(selected),
        every,
        len(table) if selected is None else _unfiltered(ads, sl, summary),
    )
    table, page = arrange(
        table, sl, page_size=page_size, totals=totals, ratios=ratios if summary else "recompute"
    )
    return table, replace(page, counts=counts, facets=facets, filterable=tuple(source.columns))


@dataclass(frozen=True)
class Selection:
    """The rows ``select`` keeps, and where each came from (``origins``, one per row): its
    row in the ad table's columns; for a summary, the index of its group in
    ``Summary.groups``, or with ``_by`` the value it groups by. Comparisons match the rows of
    two reads by them."""

    table: Table
    origins: Sequence[Hashable]


def select_rows(
    ads: Ads,
    sl: Slice,
    selected: Rows | None,
    *,
    summary: Summary | None = None,
    ratios: RatioMode = "recompute",
) -> Table:
    """Which rows: the ``selected`` ad rows (None: all), with their ``Flags`` if asked, or
    (``summary``) one row per group of them, by the summary's own groups or by ``sl.by``.
    Raises ``BadOption``."""
    return select(ads, sl, selected, summary=summary, ratios=ratios).table


def select(
    ads: Ads,
    sl: Slice,
    selected: Rows | None,
    *,
    summary: Summary | None = None,
    ratios: RatioMode = "recompute",
) -> Selection:
    """``select_rows``, with where each row came from."""
    source = ads.table
    if summary is None:
        if sl.by is not None:
            raise BadOption(f"_by groups summaries: ask /{source.spec.name}/resumo?_by={sl.by}")
        table = source if selected is None else source.select(selected)
        if sl.flags:
            table = with_flags(table, source, ads.quality)
        return Selection(table, table.selection)
    if sl.flags:
        raise BadOption(f"_flags marks ad rows: ask /{source.spec.name}?_flags=1")
    if sl.by is not None:
        table = _summary_by(source, sl.by, selected, summary, ratios)
        return Selection(table, [row[0] for row in table.rows])
    kept = _kept(list(enumerate(summary.groups)), selected)
    table = summarize(
        source, [group for _, group in kept], ratios, spec=summary.spec, title=summary.title()
    )
    return Selection(table, [index for index, _ in kept])


def _accounts(ads: Table) -> Callable[[Sequence[int]], list[Cell]]:
    """The Account Name of some ad rows, for the warnings to name (empties without one)."""
    if ACCOUNT not in ads.columns:
        return lambda rows: [None] * len(rows)
    column = ads.columns.index(ACCOUNT)
    return lambda rows: cells(ads, column, rows)


def _unfiltered(ads: Ads, sl: Slice, summary: Summary | None) -> int:
    """The rows the report has without filters: its ads, its groups, or the distinct values
    of its ``_by`` column over every ad."""
    if summary is None:
        return len(ads.table)
    if sl.by is None:
        return len(summary.groups)
    return len(set(cells(ads.table, column_index(ads.table, sl.by, "_by"))))


def arrange(
    table: Table,
    sl: Slice,
    *,
    page_size: int | None = None,
    totals: bool = False,
    ratios: RatioMode = "recompute",
) -> tuple[Table, Page]:
    """Sort, page and project: the page of ``table`` that ``sl`` asks for, its rows sorted by
    ``sl.sort`` and cut to ``sl.columns``, and where the page sits. Raises ``BadOption``."""
    # The output's labels are checked before sorting or totalling anything.
    sort_column = None if sl.sort is None else column_index(table, sl.sort, "_sort")
    chosen = _columns(table, sl.columns) if sl.columns else None
    total = len(table)
    if sl.offset and sl.offset >= total:
        count = f"{total:,} row{'s' * (total != 1)}"
        raise PastTheEnd(
            f"_next={sl.offset} is past the end: with these options the report has {count}; "
            "its first page has no _next"
        )
    row_totals = _totals(table, ratios) if totals else None
    size = sl.size or page_size
    start = sl.offset
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


def _kept(
    groups: Sequence[tuple[int, Group]], selected: Rows | None
) -> Sequence[tuple[int, Group]]:
    """The (numbered) groups with only their selected rows, those left without any dropped
    (None: every row is selected). ``selected`` is in ascending order, a group a range of
    rows."""
    if selected is None:
        return groups
    kept: list[tuple[int, Group]] = []
    for number, (prefix, rows) in groups:
        if isinstance(rows, range) and rows.step == 1:
            first, last = bisect_left(selected, rows.start), bisect_left(selected, rows.stop)
            mine: Rows = selected[first:last]
        else:
            keep = set(selected)
            mine = [i for i in rows if i in keep]
        if mine:
            kept.append((number, (prefix, mine)))
    return kept


def _columns(table: Table, values: Sequence[str]) -> list[int]:
    chosen: list[int] = []
    for value in values:
        # A label holding a comma is taken whole; otherwise a value may be a comma list.
        whole = {label_key(name) for name in table.columns}
        parts = [value] if label_key(value) in whole else value.split(",")
        for part in parts:
            index = column_index(table, part, "_col")
            if index in chosen:
                raise BadOption(f"_col: column {table.columns[index]!r} is asked twice")
            chosen.append(index)
    return chosen


def _summary_by(
    ads: Table, label: str, selected: Rows | None, summary: Summary, ratios: RatioMode
) -> Table:
    column = column_index(ads, label, "_by")
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


def _totals(table: Table, ratios: RatioMode = "recompute") -> list[Cell]:
    """Sums of the numeric columns over every row, ratios recomputed (or summed); text
    columns empty."""
    (row,) = totals(table, [([], table.selection)], ratios)
    return row


__all__ = [
    "BadOption",
    "Counts",
    "Page",
    "PastTheEnd",
    "Selection",
    "Summary",
    "arrange",
    "report_source",
    "select",
    "select_rows",
    "slice_report",
]
