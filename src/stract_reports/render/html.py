"""A table, the report index and error pages as HTML: Jinja templates, always autoescaped.

No Flask here, so the CLI renders the same pages as the server, and no URL is built here: a
page's links come planned (``render.links``). A page's only inline code is
its ``<style>``, which carries ``nonce`` when one is given, for a nonce-based CSP; pages run no
script (sorting and paging are links, the chart is SVG with presentation attributes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..reports.filters import OPERATORS
from ..reports.numbers import format_number
from ..reports.options import RatioMode
from ..reports.slicing import Counts, Page
from ..reports.table import Cell, Table
from .chart import render_chart_svg
from .json import iso_utc
from .kinds import Kind, column_kind, display_number
from .links import FacetLinks, PageLinks, ReportLink, Share
from .notes import HistoryNote

# autoescape=True, not select_autoescape(): every template here is HTML, whatever its name.
_ENV = Environment(
    loader=PackageLoader("stract_reports.render", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(
    table: Table,
    generated_at: datetime,
    links: PageLinks,
    *,
    nonce: str | None = None,
    page: Page | None = None,
    ratios: RatioMode = "recompute",
    chosen_columns: bool = False,
    note: HistoryNote | None = None,
    share: Share | None = None,
) -> str:
    """The table as a readable page with its ``links`` (planned by ``urls.page_links``);
    ``page``: where this page sits in the sliced table (None: it is the whole table);
    ``ratios``: the summary mode, shown; ``chosen_columns``: the request chose the columns, so
    a summary shows them even when empty; ``note``: a report from the store says so in a
    banner (and a time series draws its line chart instead of the bars); ``share``: the lines
    to copy to take the report elsewhere (a spreadsheet formula), shown under the table."""
    summary = table.spec.summary
    page = page or Page(len(table), 0, None, None)
    kinds = [column_kind(label, n) for label, n in zip(table.columns, table.numeric, strict=True)]
    # Summaries leave text empty: columns empty in every row only widen the page.
    visible = _visible_columns(table, hide_empty=summary and not chosen_columns)
    if note is not None and note.chart is not None:
        chart: str | None = note.chart
    else:
        chart = render_chart_svg(table) if summary else None
    return _render(
        "report.html",
        nonce=nonce,
        note=note,
        warnings=table.warnings,
        title=table.title or table.spec.name,
        name=table.spec.name,
        columns=[_column(table, kinds, links, c) for c in visible],
        rows=[_row(row, kinds, visible) for row in table.rows],  # one page: a few hundred
        totals=_row(page.totals, kinds, visible),
        ads=_ad_count(page.counts),
        total_rows=page.total,
        paged=page.paged,
        first_row=page.offset + 1,
        generated_at=iso_utc(generated_at),
        formats=links.formats,
        paging=links.paging,
        hidden=[label for c, label in enumerate(table.columns) if c not in visible],
        summary=summary,
        ratios=ratios,
        ratios_switch=links.ratios_switch,
        chart=Markup(chart) if chart else None,
        filters=links.filters,
        others=links.reports,
        form=links.form,
        operators=list(OPERATORS.items()),
        facets=[_facet(f) for f in links.facets],
        home=links.home,
        sortable=any(link.url for link in links.sort),
        share=share.lines if share else (),
        share_note=share.note if share else "",
    )


def render_index_html(
    *,
    name: str,
    email: str,
    linkedin: str,
    reports: Sequence[ReportLink],
    chart_url: str,
    platforms_error: str | None = None,
    nonce: str | None = None,
    chart: str | None = None,
    history_url: str = "",
) -> str:
    """The index page: the report owner, every report in every format, and ``chart`` (the
    SVG that ``render_chart_svg`` draws of the ``/geral/resumo`` table, linking to
    ``chart_url``) when given, and a link to the snapshot list (``history_url``)."""
    return _render(
        "index.html",
        nonce=nonce,
        title="Stract reports",
        owner_name=name,
        email=email,
        linkedin=linkedin,
        # Only web addresses become links: a configured "javascript:" URL must stay inert text.
        linkedin_is_web=linkedin.startswith(("https://", "http://")),
        reports=reports,
        platforms_error=platforms_error,
        chart=Markup(chart) if chart else None,
        chart_url=chart_url,
        history_url=history_url,
    )


def render_history_html(
    snapshots: Sequence[Mapping[str, Any]],
    *,
    next_url: str | None,
    first_url: str | None,
    json_url: str,
    nonce: str | None = None,
) -> str:
    """The snapshot list (``history_page``): each snapshot's time, trigger, counts and links
    to the reports as of it, and the links to the older page and back to the newest."""
    return _render(
        "history.html",
        nonce=nonce,
        title="History: the snapshots recorded",
        snapshots=snapshots,
        next_url=next_url,
        first_url=first_url,
        json_url=json_url,
    )


def render_error_html(status: int, error: str, detail: str, *, nonce: str | None = None) -> str:
    """An error page with the same ``error``, ``detail`` and ``status`` as the JSON body."""
    return _render(
        "error.html",
        nonce=nonce,
        title=f"{status} {error}",
        status=status,
        error=error,
        detail=detail,
    )


@dataclass(frozen=True)
class _FacetValue:
    text: str  # the value as a reader sees it ("(empty)" for empty cells)
    count: str
    spend: str | None
    url: str
    selected: bool


@dataclass(frozen=True)
class _Facet:
    column: str
    asked: bool
    truncated: bool
    values: list[_FacetValue]


def _facet(links: FacetLinks) -> _Facet:
    """A facet as the page lists it: values formatted as the table shows them."""
    facet = links.facet
    values = []
    for value, url, selected in links.values:
        cell = value.value
        if cell is None:
            text = "(empty)"
        elif isinstance(cell, str):
            text = cell
        else:
            text = display_number(cell, column_kind(facet.column, True))
        spend = None if value.spend is None else display_number(value.spend, "money")
        values.append(_FacetValue(text, f"{value.count:,}", spend, url, selected))
    return _Facet(facet.column, facet.asked, facet.truncated, values)


def _ad_count(counts: Counts | None) -> str | None:
    """ "54 of 66 ads": the ads the page's filters keep, of the report's."""
    if counts is None:
        return None
    noun = "ad" if counts.all_ads == 1 else "ads"
    return f"{counts.ads:,} of {counts.all_ads:,} {noun}"


@dataclass(frozen=True)
class _Column:
    label: str
    numeric: bool
    sort_url: str | None
    aria_sort: str | None  # "ascending" / "descending" for the column the rows are sorted by


def _visible_columns(table: Table, *, hide_empty: bool) -> list[int]:
    """The columns shown: all, or (``hide_empty``) those with a value in some row."""
    every = range(len(table.columns))
    if not hide_empty or not len(table):
        return list(every)
    return [c for c in every if not all(table.data[c].is_empty(table.selection))]


def _column(table: Table, kinds: list[Kind], links: PageLinks, c: int) -> _Column:
    return _Column(table.columns[c], kinds[c] != "text", links.sort[c].url, links.sort[c].order)


def _row(
    cells: Sequence[Cell] | None, kinds: list[Kind], visible: list[int]
) -> list[tuple[str, str | None]] | None:
    """The visible cells of a row as shown (None: no row)."""
    return None if cells is None else [_cell(cells[c], kinds[c]) for c in visible]


def _cell(value: Cell, kind: Kind) -> tuple[str, str | None]:
    """A cell as shown, and its raw value (numbers only) for copying and sorting."""
    if value is None:
        return "", None
    if kind == "text":
        return str(value), None
    return display_number(value, kind), format_number(value)  # type: ignore[arg-type]


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


__all__ = ["render_error_html", "render_history_html", "render_html", "render_index_html"]
