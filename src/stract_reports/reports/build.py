"""The five reports as pure functions: fetched upstream data in, a ``Table`` out.

Rows are grouped by (platform, account id), never by name; ids and tokens never reach a cell.
Columns come from field labels merged case-insensitively, in upstream order of first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from ..records import PlatformData
from .metrics import DERIVED_PER_AD, RATIOS, label_key
from .names import RatioMode, report_name
from .numbers import Number, format_number, parse_number, ratio
from .table import Cell, Table

PLATFORM = "Platform"
ACCOUNT = "Account Name"
# Per summary row: its first cells (Platform, Account Name), and the ad rows it aggregates.
Groups = list[tuple[list[Cell], list[range]]]


def platform_ads(data: PlatformData) -> Table:
    """``/{platform}``: one row per ad of one platform."""
    name = report_name(data.platform.value, summary=False)
    return _ads([data], name, f"{data.platform.label}: ads").table


def platform_summary(data: PlatformData, ratios: RatioMode = "recompute") -> Table:
    """``/{platform}/resumo``: one row per account of one platform."""
    ads = _ads([data], "", "")
    groups: Groups = [([data.platform.label, span.account], [span.rows]) for span in ads.spans]
    name = report_name(data.platform.value, summary=True)
    return _summarize(ads.table, groups, ratios, name, f"{data.platform.label}: summary by account")


def general_ads(data: Sequence[PlatformData]) -> Table:
    """``/geral``: one row per ad of every platform."""
    return _ads(data, report_name(None, summary=False), "All platforms: ads").table


def general_summary(data: Sequence[PlatformData], ratios: RatioMode = "recompute") -> Table:
    """``/geral/resumo``: one row per platform."""
    ads = _ads(data, "", "")
    groups: Groups = [
        ([p.platform.label, None], [s.rows for s in ads.spans if s.platform == index])
        for index, p in enumerate(data)
    ]
    name = report_name(None, summary=True)
    return _summarize(ads.table, groups, ratios, name, "All platforms: summary")


@dataclass
class _Span:
    """The ad rows of one account: ``rows`` indexes the table's rows."""

    platform: int
    account: str
    rows: range


@dataclass
class _Ads:
    table: Table
    spans: list[_Span]


def _ads(data: Sequence[PlatformData], name: str, title: str) -> _Ads:
    columns = [PLATFORM, ACCOUNT]
    column_of: dict[str, int] = {label_key(PLATFORM): 0, label_key(ACCOUNT): 1}
    layouts = []
    for p in data:
        own: dict[str, int] = {}  # label key -> position of the field in this platform's rows
        source: dict[int, int] = {}  # column -> position of the field that fills it
        for position, f in enumerate(p.fields):
            label = " ".join(f.label.split())
            if label_key(label) in own:  # two fields of one platform share a label: keep both
                label = f"{label} ({f.key})"
            key = label_key(label)
            own[key] = position
            if key not in column_of:
                column_of[key] = len(columns)
                columns.append(label)
            source[column_of[key]] = position
        derived = [
            (column_of[name_key], own[r.numerator], own[r.denominator])
            for name_key, r in DERIVED_PER_AD.items()
            if name_key in column_of
            and name_key not in own
            and r.numerator in own
            and r.denominator in own
        ]
        layouts.append((source, derived))

    rows: list[list[Cell]] = []
    spans: list[_Span] = []
    width = len(columns)
    for index, (p, (source, derived)) in enumerate(zip(data, layouts, strict=True)):
        # Rows get one None appended, which fills the columns this platform lacks.
        missing = len(p.fields)
        pick = _picker([source.get(column, missing) for column in range(2, width)])
        for account_data in p.accounts:
            prefix: list[Cell] = [p.platform.label, account_data.account.name]
            start = len(rows)
            for values in account_data.rows:
                cells = prefix + pick((*values, None))
                for column, numerator, denominator in derived:
                    cells[column] = ratio(
                        parse_number(values[numerator]), parse_number(values[denominator])
                    )
                rows.append(cells)
            spans.append(_Span(index, account_data.account.name, range(start, len(rows))))

    numeric = [False, False] + [_settle_column(rows, c) for c in range(2, width)]
    return _Ads(Table(name, title, columns, numeric, rows), spans)


def _picker(positions: list[int]) -> Callable[[tuple[Any, ...]], list[Any]]:
    """A function taking the values at ``positions`` of a tuple, as a list (C speed)."""
    if not positions:
        return lambda values: []
    if len(positions) == 1:
        (position,) = positions
        return lambda values: [values[position]]
    getter = itemgetter(*positions)
    return lambda values: list(getter(values))


def _settle_column(rows: list[list[Cell]], column: int) -> bool:
    """Decide whether a column is numeric (every non-empty value is a number, and there is
    one), then store its cells as numbers or as text accordingly. Returns the decision."""
    found = False
    parsed: dict[int, Number | None] = {}  # cells that must change: numeric text, ""
    for index, row in enumerate(rows):
        value = row[column]
        kind = type(value)
        if kind is int or kind is Decimal:
            found = True
        elif value is None:
            continue
        elif value == "":
            parsed[index] = None
        else:
            number = parse_number(value)
            if number is None:
                for r in rows:
                    text = r[column]
                    if type(text) is not str or not text:  # most cells are text already
                        r[column] = _as_text(text)
                return False
            parsed[index] = number
            found = True
    for index, number in parsed.items():
        rows[index][column] = number
    return found


def _as_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    number = parse_number(value)
    return str(value) if number is None else format_number(number)


def _summarize(
    ads: Table,
    groups: Groups,
    ratios: RatioMode,
    name: str,
    title: str,
) -> Table:
    column_of = {label_key(label): i for i, label in enumerate(ads.columns)}
    aggregators = [_aggregator(ads, i, ratios, column_of) for i in range(2, len(ads.columns))]
    out: list[list[Cell]] = []
    for prefix, ranges in groups:
        group = [ads.rows[i] for r in ranges for i in r]
        out.append([*prefix, *(aggregate(group) for aggregate in aggregators)])
    return Table(name, title, list(ads.columns), list(ads.numeric), out)


_Rows = list[list[Cell]]


def _aggregator(
    ads: Table, index: int, ratios: RatioMode, column_of: dict[str, int]
) -> Callable[[_Rows], Cell]:
    """How a summary fills column ``index`` from a group of ad rows."""
    if not ads.numeric[index]:
        return lambda group: None  # text: summaries leave it empty
    definition = RATIOS.get(label_key(ads.columns[index])) if ratios == "recompute" else None
    if definition is None:
        return lambda group: _sum(group, index)
    numerator = column_of.get(definition.numerator or "")
    denominator = column_of.get(definition.denominator or "")
    if numerator is None or denominator is None:
        return lambda group: None  # a ratio with no components in the data
    if not (ads.numeric[numerator] and ads.numeric[denominator]):
        return lambda group: None

    def recompute(group: _Rows) -> Cell:
        if all(row[index] is None for row in group):
            return None  # the group's ads have no such ratio: nothing to recompute
        return ratio(_sum(group, numerator), _sum(group, denominator))

    return recompute


def _sum(rows: _Rows, column: int) -> Number | None:
    values = [row[column] for row in rows if row[column] is not None]
    return sum(values) if values else None  # type: ignore[arg-type]


# The interface of the slicing layer (reports/slicing.py): the ad table of a report, with the
# default groupings of its summaries, and a summary over any groups and columns.

# A summary row's leading cells, and the indices of the ad rows it aggregates.
Group = tuple[list[Cell], list[int]]


@dataclass(frozen=True)
class Ads:
    """The ad rows of a report, and the default groups of its two summaries."""

    table: Table  # the ad rows (Platform, Account Name, fields...)
    by_account: list[Group]  # /{platform}/resumo: accounts without ads get an empty list
    by_platform: list[Group]  # /geral/resumo


def ads_table(data: Sequence[PlatformData], name: str, title: str) -> Ads:
    """The ad table of ``data`` named ``name``, with its account and platform groups."""
    ads = _ads(data, name, title)
    by_account: list[Group] = [
        ([data[s.platform].platform.label, s.account], list(s.rows)) for s in ads.spans
    ]
    by_platform: list[Group] = [
        ([p.platform.label, None], [i for s in ads.spans if s.platform == index for i in s.rows])
        for index, p in enumerate(data)
    ]
    return Ads(ads.table, by_account, by_platform)


def summarize(
    ads: Table,
    groups: Sequence[Group],
    ratios: RatioMode,
    *,
    name: str,
    title: str,
    columns: list[int] | None = None,
) -> Table:
    """One row per group: its leading cells, then the aggregated ``columns`` that follow them
    (indices into ``ads``; default all), ratios recomputed as in the default summaries."""
    chosen = list(range(len(ads.columns))) if columns is None else list(columns)
    column_of = {label_key(label): i for i, label in enumerate(ads.columns)}
    aggregators = {c: _aggregator(ads, c, ratios, column_of) for c in chosen}
    out: list[list[Cell]] = []
    for prefix, indices in groups:
        rows = [ads.rows[i] for i in indices]
        out.append([*prefix, *(aggregators[c](rows) for c in chosen[len(prefix) :])])
    return Table(
        name,
        title,
        [ads.columns[c] for c in chosen],
        [ads.numeric[c] for c in chosen],
        out,
    )
