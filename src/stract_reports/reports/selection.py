"""Which ads a slice keeps, and what it says about them: filters and ``_search`` evaluated
over the ad table (their meaning is ``filters``'), the facets of the selection, the ``Flags``
column, and the warnings of a selection left empty.

The evaluation is kept narrow: everything here reads a column's cells for some rows through
``cells`` and nothing else, so a column-wise table changes that one function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import compress

from .facets import MAX_VALUES, Facet, facet, suggested_columns
from .filters import BadFilter, Filter, Test, case_hints, cell_test, filter_operand, search_test
from .metrics import SPEND, label_key
from .quality import Quality, flags_column
from .table import Cell, Table
from .words import Rows, TextColumn, gather

FLAGS = "Flags"  # the column ``?_flags=1`` adds
GLANCE = 2000  # cells of a text column looked at before it is offered as a facet


class BadOption(ValueError):
    """An option the report cannot apply; the message names the valid choices (HTTP 400)."""


def column_index(table: Table, label: str, option: str) -> int:
    """The index of the column labelled ``label`` (as columns are merged), or BadOption."""
    key = label_key(label)
    for index, name in enumerate(table.columns):
        if label_key(name) == key:
            return index
    raise BadOption(f"{option}: no column {label!r}; columns: {', '.join(table.columns)}")


def cells(table: Table, column: int, rows: Rows | None = None) -> list[Cell]:
    """The cells of ``column`` in ``rows`` (None: the table's own rows), in that order."""
    return table.data[column].cells(table.selection if rows is None else rows)  # type: ignore[return-value]


def select_ads(ads: Table, filters: Sequence[Filter], search: str | None) -> Rows | None:
    """The ad rows the filters and the search keep, in report order; None without any (every
    row). Raises ``BadOption``.

    Every filter is checked, but a column is passed over once per different test: the exact
    filters become one wanted value per column (two different values keep no row), a filter
    given twice is applied once, and each pass does its work per row in C."""
    if not filters and search is None:
        return None
    wanted: dict[int, Cell] = {}
    contradicted = False
    tests: dict[tuple[int, str, str], Test] = {}
    for f in filters:
        column = column_index(ads, f.label, "filter")
        numeric, label = ads.numeric[column], ads.columns[column]
        try:
            if f.op == "exact":
                cell = filter_operand(f.value, numeric, f, label)
                contradicted |= column in wanted and wanted[column] != cell
                wanted.setdefault(column, cell)
            else:
                tests.setdefault((column, f.op, f.value), cell_test(f, numeric, label))
        except BadFilter as exc:
            raise BadOption(str(exc)) from None
    if contradicted:
        return []
    rows: Rows = ads.selection
    for column, cell in wanted.items():
        rows = ads.data[column].equal_rows(cell, rows)  # type: ignore[arg-type]
    for (column, _, _), test in tests.items():
        data = ads.data[column]
        if isinstance(data, TextColumn):
            # Each distinct text is tested once; the pass over the rows is a lookup in C. (Not
            # numbers: 886 and 886.0 are one value, yet print differently for __contains.)
            verdict = [bool(test(value)) for value in data.values]
            kept: Iterable[bool] = map(verdict.__getitem__, gather(data.codes, rows))
        else:
            kept = map(test, data.cells(rows))
        rows = list(compress(rows, kept))
    if search is not None:
        found = search_test(search)
        text = [cells(ads, c, rows) for c, numeric in enumerate(ads.numeric) if not numeric]
        rows = list(compress(rows, map(found, zip(*text, strict=True)))) if text else []
    return list(rows)


def with_flags(table: Table, ads: Table, quality: Quality) -> Table:
    """``table`` (rows of ``ads``, sharing its columns) with a last column naming each row's
    quality flags."""
    taken = {label_key(label) for label in table.columns}
    label = FLAGS if label_key(FLAGS) not in taken else f"{FLAGS} (quality)"
    flags = TextColumn.of(flags_column(quality, len(ads.data[0]) if ads.data else 0))
    return replace(
        table,
        columns=[*table.columns, label],
        numeric=[*table.numeric, False],
        data=[*table.data, flags],
    )


def facets_of(
    ads: Table,
    asked_labels: Sequence[str],
    selected: Rows | None,
    suggest: bool,
    filters: Sequence[Filter] = (),
) -> tuple[Facet, ...]:
    """The facets asked for (``_facet`` labels) over the selected ads, with their Spend, then
    (``suggest``) those a page offers on its own, counts only: text columns whose selected
    ads hold a few values (one is enough for a column an exact filter names)."""
    spend = next(
        (c for c, label in enumerate(ads.columns) if label_key(label) == SPEND and ads.numeric[c]),
        None,
    )
    asked: list[int] = []
    for label in asked_labels:
        column = column_index(ads, label, "_facet")
        if column not in asked:
            asked.append(column)
    offered: list[int] = []
    found = {c: cells(ads, c, selected) for c in asked}
    if suggest:
        text = [c for c, numeric in enumerate(ads.numeric) if not numeric and c not in asked]
        # A glance at the first cells passes over columns of names and ids at once.
        glance = (ads.selection if selected is None else selected)[:GLANCE]
        text = [c for c in text if len(set(cells(ads, c, glance))) <= MAX_VALUES]
        found |= {c: cells(ads, c, selected) for c in text}
        exact = {column_index(ads, f.label, "filter") for f in filters if f.op == "exact"}
        offered = suggested_columns([(c, found[c]) for c in text], filtered=exact)
    if not asked and not offered:
        return ()
    spends = None if spend is None or not asked else cells(ads, spend, selected)
    # An offered facet counts (in C); summing Spend per value costs a pass in Python over the
    # selected ads, paid for the facets asked.
    return tuple(
        facet(ads.columns[c], found[c], spends if c in asked else None, asked=c in asked)
        for c in [*asked, *offered]
    )


def nothing_matched(ads: Table, filters: Sequence[Filter], search: str | None) -> list[str]:
    """The warnings of a selection left empty: which filters, and the values a text filter
    would match if case did not count."""
    asked = [f.words(ads.columns[column_index(ads, f.label, "filter")]) for f in filters]
    if search is not None:
        asked.append(f"search “{search}”")
    notes = [f"no ad matches {' and '.join(asked)}"]
    for f in filters:
        column = column_index(ads, f.label, "filter")
        if ads.numeric[column]:
            continue
        every = cells(ads, column)
        for value in case_hints(f, dict.fromkeys(every)):
            count = every.count(value)
            twin = "iexact" if f.op == "exact" else "icontains"
            notes.append(
                f"{ads.columns[column]} has {value!r} ({count:,} ad{'s' * (count != 1)}), "
                f"which differs from {f.value!r} only in case: {f.label}__{twin}={f.value} "
                "ignores case"
            )
    return notes


__all__ = [
    "FLAGS",
    "BadOption",
    "cells",
    "column_index",
    "facets_of",
    "nothing_matched",
    "select_ads",
    "with_flags",
]
