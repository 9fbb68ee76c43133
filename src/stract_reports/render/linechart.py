"""A time series as an SVG line chart: inline, no JavaScript, no style attributes.

The table holds one row per period and group (``Period`` first, then the group's text cells,
then numbers: ``reports.periods.stack_periods``). Each group is one line of the chosen column
across the periods, in its own colour, named in a legend; each point carries a ``<title>``
(the tooltip) while there are few enough of them to hover. Only presentation attributes, so a
strict CSP needs nothing extra.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from ..reports.metrics import label_key
from ..reports.numbers import Number
from ..reports.table import Table
from .kinds import column_kind, display_number

MAX_LINES = 12  # groups drawn at most: past that the lines are no easier to read than the table
MAX_POINTS = 400  # points with a tooltip at most (each is an element)
COLOURS = (
    "#1f5fbf",
    "#e07b24",
    "#2a9d57",
    "#c0392b",
    "#8e44ad",
    "#7f6a00",
    "#16a0b8",
    "#d6338a",
    "#5b6673",
    "#2c3e50",
    "#b35c00",
    "#4a7f3a",
)
_WIDTH, _HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 90, 20, 20, 40
_LEGEND_ROW = 18


def render_series_svg(table: Table, value: str) -> str | None:
    """An SVG line chart of column ``value`` per group of a time series table (its first
    ``MAX_LINES`` groups); None without that column, or with no rows."""
    keys = [label_key(label) for label in table.columns]
    if label_key(value) not in keys or not table.rows:
        return None
    column = keys.index(label_key(value))
    text_columns = [c for c in range(1, len(table.columns)) if not table.numeric[c]]
    periods: list[str] = []
    lines: dict[str, dict[str, Number | None]] = {}
    for row in table.rows:
        period = str(row[0])
        if period not in periods:
            periods.append(period)
        group = " · ".join(str(row[c]) for c in text_columns if row[c] not in (None, "")) or "all"
        if group in lines or len(lines) < MAX_LINES:
            cell = row[column]
            lines.setdefault(group, {})[period] = cell if isinstance(cell, int | Decimal) else None
    kind = column_kind(table.columns[column], True)
    values = [v for points in lines.values() for v in points.values() if v is not None]
    low, high = min([0, *values]), max([0, *values])
    span = float(high - low) or 1.0
    legend = _LEGEND_ROW * ((len(lines) + 2) // 3)
    height = _HEIGHT + legend
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return round(_LEFT + i * step, 1)

    def y(v: Number) -> float:
        return round(_TOP + plot_h - (float(v - low) / span) * plot_h, 1)

    more = f" (first {len(lines)} groups)" if len(lines) == MAX_LINES else ""
    caption = f"{table.columns[column]} per period and group{more}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="series-title" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="series-title">{escape(caption)}</title>',
        f'<line x1="{_LEFT}" y1="{y(0)}" x2="{_WIDTH - _RIGHT}" y2="{y(0)}" stroke="#b9c2cc"/>',
        f'<text x="{_LEFT - 6}" y="{y(high) + 4}" text-anchor="end" fill="#5b6673">'
        f"{escape(display_number(high, kind))}</text>",
        f'<text x="{_LEFT - 6}" y="{y(low) + 4}" text-anchor="end" fill="#5b6673">'
        f"{escape(display_number(low, kind))}</text>",
        f'<text x="{_LEFT}" y="{_HEIGHT - 12}" fill="#5b6673">{escape(periods[0])}</text>',
    ]
    if len(periods) > 1:
        parts.append(
            f'<text x="{_WIDTH - _RIGHT}" y="{_HEIGHT - 12}" text-anchor="end" '
            f'fill="#5b6673">{escape(periods[-1])}</text>'
        )
    dots = sum(len(points) for points in lines.values()) <= MAX_POINTS
    for n, (group, points) in enumerate(lines.items()):
        colour = COLOURS[n % len(COLOURS)]
        drawn = [(i, points[p]) for i, p in enumerate(periods) if points.get(p) is not None]
        if drawn:
            path = " ".join(f"{x(i)},{y(v)}" for i, v in drawn)  # type: ignore[arg-type]
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(group)}</title></polyline>"
            )
        if dots:
            for i, v in drawn:
                shown = display_number(v, kind)  # type: ignore[arg-type]
                tip = f"{group}, {periods[i]}: {table.columns[column]} {shown}"
                parts.append(
                    f'<circle cx="{x(i)}" cy="{y(v)}" r="3" fill="{colour}">'  # type: ignore[arg-type]
                    f"<title>{escape(tip)}</title></circle>"
                )
        lx = _LEFT + (n % 3) * 210
        ly = _HEIGHT + (n // 3) * _LEGEND_ROW
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="3" fill="{colour}"/>')
        parts.append(
            f'<text x="{lx + 18}" y="{ly - 4}" fill="#1d2329">{escape(_clip(group))}'
            f"<title>{escape(group)}</title></text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
