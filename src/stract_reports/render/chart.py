"""A summary as a bar chart: inline SVG drawn on the server, no JavaScript, no style attributes.

Each row gets two bars, Spend and Clicks, each on its own scale (their units differ), with the
value printed at the bar's end and in a ``<title>`` (the tooltip on hover). Only presentation
attributes (``fill``, ``font-size``...) are used, so a strict CSP needs nothing extra for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from ..reports.metrics import label_key
from ..reports.numbers import Number
from ..reports.table import Table
from .kinds import display_number

SERIES = (("Spend", "money", "#1f5fbf"), ("Clicks", "number", "#e07b24"))
MAX_BARS = 30  # rows charted at most: past that a chart is no easier to read than the table
_WIDTH = 720
_LABEL_WIDTH = 190
_VALUE_ROOM = 110  # right of the longest bar, for its printed value
_BAR = 14
_ROW = 2 * _BAR + 16
_TOP = 34


def render_chart_svg(table: Table, *, max_rows: int = MAX_BARS) -> str | None:
    """An SVG bar chart of Spend and Clicks per row of ``table`` (its first ``max_rows``
    rows); None when the table has neither column, or no rows."""
    keys = [label_key(label) for label in table.columns]
    series = [
        (keys.index(label_key(label)), label, kind, colour)
        for label, kind, colour in SERIES
        if label_key(label) in keys and table.numeric[keys.index(label_key(label))]
    ]
    rows = table.cells(table.selection[:max_rows])
    if not series or not rows:
        return None
    text_columns = [i for i, numeric in enumerate(table.numeric) if not numeric]
    height = _TOP + _ROW * len(rows) + 8
    plot = _WIDTH - _LABEL_WIDTH - _VALUE_ROOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="chart-title" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="chart-title">{escape(_caption(table, series, len(rows)))}</title>',
    ]
    for n, (_, label, _, colour) in enumerate(series):  # the legend
        x = _LABEL_WIDTH + n * 110
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="18" fill="#1d2329">{escape(label)}</text>')
    scales = [_largest(rows, column) for column, *_ in series]
    for r, row in enumerate(rows):
        y = _TOP + r * _ROW
        name = _row_label(row, text_columns)
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + _BAR + 4}" text-anchor="end" '
            f'fill="#1d2329">{escape(_clip(name))}<title>{escape(name)}</title></text>'
        )
        for n, ((column, label, kind, colour), largest) in enumerate(
            zip(series, scales, strict=True)
        ):
            value = row[column]
            top = y + n * _BAR
            shown = "no value" if value is None else display_number(value, kind)  # type: ignore[arg-type]
            length = 0.0
            if isinstance(value, int | Decimal) and value > 0 and largest > 0:
                length = round(float(value) / float(largest) * plot, 1)
            parts.append(
                f'<rect x="{_LABEL_WIDTH}" y="{top}" width="{length}" height="{_BAR - 2}" '
                f'fill="{colour}"><title>{escape(f"{name}: {label} {shown}")}</title></rect>'
            )
            parts.append(
                f'<text x="{_LABEL_WIDTH + length + 6}" y="{top + _BAR - 3}" font-size="11" '
                f'fill="#5b6673">{escape(shown)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _caption(table: Table, series: list[tuple[int, str, str, str]], shown: int) -> str:
    what = " and ".join(label for _, label, _, _ in series)
    more = f" (first {shown} of {len(table)} rows)" if shown < len(table) else ""
    return f"{what} per row of {table.title or table.spec.name}{more}"


def _largest(rows: Sequence[Sequence[object]], column: int) -> Number:
    values = [v for row in rows if isinstance(v := row[column], int | Decimal)]
    return max(values, default=0)


def _row_label(row: Sequence[object], text_columns: list[int]) -> str:
    """The most specific text of a row (its account rather than its platform), or "(empty)"."""
    texts = [str(row[i]) for i in text_columns if row[i] not in (None, "")]
    return texts[-1] if texts else "(empty)"


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
