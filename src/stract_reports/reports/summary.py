"""Summaries: one row per group of ad rows. Numbers are summed exactly; ratios are recomputed
from their summed components (or, with ``ratios="sum"``, summed like the rest); text is left
empty. One rule for every group: the default summaries, ``_by`` groups, the HTML totals row and
the charts.

A group's sum is a sum of 64-bit digits aligned to one scale (``NumberColumn.total``): exact,
whatever the number of rows, with the decimals of its most precise value (as ``Decimal`` sums
print). Ratios are ``numbers.ratio`` of the summed components.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .columnar import NumberColumn
from .metrics import RATIOS, label_key
from .numbers import ratio
from .options import RatioMode
from .spec import ReportSpec
from .table import Cell, Table
from .words import Rows

# A summary row's leading cells, and the ad rows (indices into the ad table's columns) it sums.
Group = tuple[list[Cell], Rows]


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
    from their summed components (``ratios="recompute"``) or summed; text is left empty."""
    chosen = list(range(len(ads.columns))) if columns is None else list(columns)
    rows = totals(ads, groups, ratios, chosen)
    labels = [ads.columns[c] for c in chosen]
    numeric = [ads.numeric[c] for c in chosen]
    return Table.of_rows(spec, title, labels, numeric, rows, list(ads.warnings), ads.digest)


def totals(
    table: Table, groups: Sequence[Group], ratios: RatioMode, columns: Sequence[int] | None = None
) -> list[list[Cell]]:
    """One row per group: its leading cells, then ``columns`` (default all) after as many of
    them, aggregated over the group's rows."""
    chosen = list(range(len(table.columns))) if columns is None else list(columns)
    column_of = {label_key(label): i for i, label in enumerate(table.columns)}
    out = []
    for prefix, rows in groups:
        aggregate = [_aggregator(table, c, ratios, column_of) for c in chosen[len(prefix) :]]
        out.append([*prefix, *(f(rows) for f in aggregate)])
    return out


def _aggregator(
    table: Table, index: int, ratios: RatioMode, column_of: dict[str, int]
) -> Callable[[Rows], Cell]:
    """How a summary fills column ``index`` from a group of rows."""
    column = table.data[index]
    if not isinstance(column, NumberColumn):
        return lambda rows: None  # text: summaries leave it empty
    definition = RATIOS.get(label_key(table.columns[index])) if ratios == "recompute" else None
    if definition is None:
        return column.total
    top = column_of.get(definition.numerator or "")
    bottom = column_of.get(definition.denominator or "")
    if top is None or bottom is None:
        return lambda rows: None  # a ratio with no components in the data
    numerator, denominator = table.data[top], table.data[bottom]
    if not (isinstance(numerator, NumberColumn) and isinstance(denominator, NumberColumn)):
        return lambda rows: None

    # One rule for every group (summaries, _by, totals, charts): the ratio of the group's
    # summed components wherever they exist, whether or not its ads served the ratio itself
    # (Google Analytics and TikTok serve no Clickthrough Rate, yet have Clicks and Impressions).
    def recompute(rows: Rows) -> Cell:
        return ratio(numerator.total(rows), denominator.total(rows))

    return recompute


__all__ = ["Group", "summarize", "totals"]
