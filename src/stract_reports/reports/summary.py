"""Summaries: one row per group of ad rows. Numbers are summed exactly; ratios are recomputed
from their summed components (or, with ``ratios="sum"``, summed like the rest); text is left
empty. One rule for every group: the default summaries, ``_by`` groups, the HTML totals row and
the charts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import DecimalException, localcontext
from functools import partial
from operator import is_not, itemgetter

from ..errors import UpstreamBadPayload
from ..records import insights_call
from .collector import gc_paused
from .metrics import label_key, ratio_of
from .numbers import ARITHMETIC, Number, ratio
from .options import RatioMode
from .spec import ReportSpec
from .table import Cell, Table

# A summary row's leading cells, and the indices of the ad rows it aggregates.
Group = tuple[list[Cell], list[int]]

_not_none = partial(is_not, None)
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
    with gc_paused(), localcontext(ARITHMETIC):
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
    definition = ratio_of(ads.columns[index]) if ratios == "recompute" else None
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
