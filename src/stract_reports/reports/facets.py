"""Facets, Datasette's: how the selected ads spread over the values of a column.

``_facet=Country`` counts the selected ads per value of that column, with their Spend summed
exactly, the values by count (most first), then alphabetically; at most ``MAX_VALUES`` of them
(the facet says when it has more). An HTML page also offers facets on its own
(``suggested_columns``): the text columns whose selected ads hold 2 to ``MAX_VALUES`` distinct
values, and those a filter holds to one value (so the page shows the filter's value and its
link that takes it away). The counting takes a column's cells and nothing else, so a
column-wise table can hand its codes instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
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
    cells: Iterable[Cell],
    spends: Iterable[Cell] | None,
    *,
    asked: bool = True,
    limit: int = MAX_VALUES,
) -> Facet:
    """The facet of ``column`` from its selected cells and (None: no Spend column) the
    same ads' Spend cells (numbers), in the same order."""
    counts: dict[Cell, int] = {}
    sums: dict[Cell, Number] = {}
    if spends is None:
        for cell in cells:
            counts[cell] = counts.get(cell, 0) + 1
    else:
        for cell, spend in zip(cells, spends, strict=True):
            counts[cell] = counts.get(cell, 0) + 1
            if spend is not None:
                sums[cell] = ARITHMETIC.add(sums.get(cell, 0), spend)  # type: ignore[arg-type]
    ordered = sorted(counts, key=lambda value: (-counts[value], *_order(value)))
    values = tuple(
        FacetValue(value, counts[value], None if spends is None else sums.get(value, 0))
        for value in ordered[:limit]
    )
    return Facet(column, values, len(ordered) > limit, asked)


def suggested_columns(
    columns: Sequence[tuple[int, Iterable[Cell]]],
    *,
    filtered: Collection[int] = (),
    limit: int = MAX_VALUES,
) -> list[int]:
    """Of (column index, its selected cells) of text columns, those holding 2 to ``limit``
    distinct values, or (a ``filtered`` column, whose chosen value the facet shows) 1: a
    column stops being counted as soon as it has more."""
    chosen = []
    for index, cells in columns:
        seen: set[Cell] = set()
        for cell in cells:
            seen.add(cell)
            if len(seen) > limit:
                break
        if (1 if index in filtered else 2) <= len(seen) <= limit:
            chosen.append(index)
    return chosen


def _order(value: Cell) -> tuple[bool, Any, str]:
    """Values of equal count: text alphabetically (any case), numbers by value, empty last
    (a column holds numbers or text, never both)."""
    if value is None:
        return (True, 0, "")
    if isinstance(value, str):
        return (False, value.casefold(), value)
    return (False, value, "")


__all__ = ["MAX_VALUES", "Facet", "FacetValue", "facet", "suggested_columns"]
