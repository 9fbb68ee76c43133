"""Facets, Datasette's: how the selected ads spread over the values of a column.

``_facet=Country`` counts the selected ads per value of that column, with their Spend summed
exactly, the values by count (most first), then alphabetically; at most ``MAX_VALUES`` of them
(the facet says when it has more). An HTML page also offers facets on its own, counts only
(``suggested_columns``): the text columns whose selected ads hold 2 to ``MAX_VALUES`` distinct
values, and those a filter holds to one value (so the page shows the filter's value and its
link that takes it away). The counting takes a column's cells and nothing else, so a
column-wise table can hand its codes instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import localcontext
from typing import Any

from .numbers import ARITHMETIC, Number

Cell = Number | str | None
MAX_VALUES = 30


@dataclass(frozen=True)
class FacetValue:
    """One value of a faceted column: how many selected ads hold it, and their Spend."""

    value: Cell
    count: int
    spend: Number | None  # None: the report has no numeric Spend column


@dataclass(frozen=True)
class Facet:
    """A column's values over the selected ads, most frequent first."""

    column: str  # the label as the report spells it
    values: tuple[FacetValue, ...]
    truncated: bool  # more than MAX_VALUES distinct values: only the first are here
    asked: bool  # asked with ``_facet`` (else offered by the page on its own)


def facet(
    column: str,
    cells: Sequence[Cell],
    spends: Sequence[Cell] | None,
    *,
    asked: bool = True,
    limit: int = MAX_VALUES,
) -> Facet:
    """The facet of ``column`` from its selected cells and (None: no Spend column) the
    same ads' Spend cells (numbers), in the same order."""
    counts = Counter(cells)
    ordered = sorted(counts, key=lambda value: (-counts[value], *_order(value)))
    shown = ordered[:limit]
    sums = {} if spends is None else _sums(cells, spends, shown)
    values = tuple(
        FacetValue(value, counts[value], None if spends is None else sums[value]) for value in shown
    )
    return Facet(column, values, len(ordered) > limit, asked)


def suggested_columns(
    columns: Sequence[tuple[int, Sequence[Cell]]],
    *,
    filtered: Collection[int] = (),
    limit: int = MAX_VALUES,
) -> list[int]:
    """Of (column index, its selected cells) of text columns, those holding 2 to ``limit``
    distinct values, or (a ``filtered`` column, whose chosen value the facet shows) 1."""
    return [
        index
        for index, cells in columns
        if (1 if index in filtered else 2) <= len(set(cells)) <= limit
    ]


def _sums(
    cells: Sequence[Cell], spends: Sequence[Cell], values: Sequence[Cell]
) -> dict[Cell, Number]:
    """The exact Spend of each of ``values`` over the ads that hold it, in one pass."""
    wanted = set(values)
    sums: dict[Cell, Any] = dict.fromkeys(values, 0)
    with localcontext(ARITHMETIC):  # exact, or an error: never rounded
        for cell, spend in zip(cells, spends, strict=True):
            if spend is not None and cell in wanted:
                sums[cell] += spend
    return sums


def _order(value: Cell) -> tuple[bool, Any, str]:
    """Values of equal count: text alphabetically (any case), numbers by value, empty last
    (a column holds numbers or text, never both)."""
    if value is None:
        return (True, 0, "")
    if isinstance(value, str):
        return (False, value.casefold(), value)
    return (False, value, "")


__all__ = ["MAX_VALUES", "Facet", "FacetValue", "facet", "suggested_columns"]
