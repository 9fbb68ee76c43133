"""A table, the report index and error pages as HTML: Jinja templates, always autoescaped.

No Flask here, so the CLI renders the same pages as the server. A page's only inline code is
its ``<style>``, which carries ``nonce`` when one is given, for a nonce-based CSP; pages run no
script (sorting and paging are links, the chart is SVG with presentation attributes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..catalog import ReportLink, report_links, report_url
from ..reports.metrics import label_key
from ..reports.names import GENERAL, SUMMARY, RatioMode, report_name, report_names
from ..reports.numbers import format_number
from ..reports.slicing import OTHER_OPTIONS, TABLE_OPTIONS, Page, query_with
from ..reports.table import Cell, Table
from .chart import render_chart_svg
from .json import iso_utc
from .kinds import Kind, column_kind, display_number

# Options that belong to one format's response: links to other formats set their own.
_FORMAT_ONLY = frozenset({"excel", "download", "_shape"})
# Never written into a page: an access key must not appear in a response body. Links carry
# every other option; the key travels the way the access layer says (not in our links).
_SECRET_OPTIONS = frozenset({"key"})
# What a browser is given per page unless ``_size`` says otherwise.
HTML_PAGE_SIZE = 500

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
    *,
    nonce: str | None = None,
    query: Iterable[tuple[str, str]] = (),
    page: Page | None = None,
    ratios: RatioMode = "recompute",
) -> str:
    """The table as a readable page. ``query``: the request's options, carried by every link
    (formats, sort headers, paging, related reports); ``page``: where this page sits in the
    sliced table (None: it is the whole table); ``ratios``: the summary mode, shown."""
    pairs = [(n, v) for n, v in query if n not in _FORMAT_ONLY and n not in _SECRET_OPTIONS]
    summary = table.name.rpartition("/")[2] == SUMMARY
    paged = page is not None and (page.next is not None or page.offset > 0)
    sort_key, descending = _sort_state(pairs)
    visible = list(range(len(table.columns)))
    hidden: list[str] = []
    if summary and not any(name == "_col" for name, _ in pairs):
        # Summaries leave text empty: columns empty in every row only widen the page.
        empty = [all(row[c] is None for row in table.rows) for c in visible]
        hidden = [table.columns[c] for c in visible if empty[c] and table.rows]
        visible = [c for c in visible if not (empty[c] and table.rows)]
    kinds = [column_kind(label, n) for label, n in zip(table.columns, table.numeric, strict=True)]
    columns = [
        _header(table.name, pairs, table.columns[c], kinds[c], sort_key, descending)
        for c in visible
    ]
    rows = [[_cell(row[c], kinds[c]) for c in visible] for row in table.rows]
    totals = None
    if not summary and page is not None and page.totals is not None:
        totals = [_cell(page.totals[c], kinds[c]) for c in visible]
    chart = render_chart_svg(table) if summary else None
    return _render(
        "report.html",
        nonce=nonce,
        warnings=table.warnings,
        title=table.title or table.name,
        name=table.name,
        columns=columns,
        rows=rows,
        totals=totals,
        total_rows=page.total if page is not None else len(table.rows),
        paged=paged,
        first_row=(page.offset if page is not None else 0) + 1,
        generated_at=iso_utc(generated_at),
        formats=_format_links(table.name, pairs, explicit_size=_given(pairs, "_size")),
        paging=_paging_links(table.name, pairs, page) if paged and page is not None else [],
        hidden=hidden,
        summary=summary,
        ratios=ratios,
        ratios_switch=report_url(
            table.name, "html", query_with(pairs, {"ratios": None if ratios == "sum" else "sum"})
        ),
        chart=Markup(chart) if chart else None,
        filters=_filter_links(table.name, pairs),
        others=_related_reports(table.name, pairs),
    )


def render_index_html(
    *,
    name: str,
    email: str,
    linkedin: str,
    reports: Sequence[ReportLink],
    platforms_error: str | None = None,
    nonce: str | None = None,
    chart: str | None = None,
) -> str:
    """The index page: the report owner, every report in every format, and ``chart`` (the
    SVG that ``render_chart_svg`` draws of the ``/geral/resumo`` table) when given."""
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
        chart_url=report_url(report_name(None, summary=True), "html"),
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


def _related_reports(name: str, pairs: list[tuple[str, str]]) -> list[ReportLink]:
    # The table knows only its own name; its platform's pair and the general pair follow from it.
    # They share the ad columns, so the filters carry over; the output options do not.
    base = name.split("/")[0]
    query = urlencode([(n, v) for n, v in pairs if n not in TABLE_OPTIONS])
    return [
        ReportLink(link.name, {fmt: report_url(link.name, fmt, query) for fmt in link.urls})
        for link in report_links(report_names([] if base == GENERAL else [base]))
    ]


def _filter_links(name: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(label, value, URL of this page without that filter) of each filter in force."""
    links = []
    for index, (label, value) in enumerate(pairs):
        if label.startswith("_") or label in OTHER_OPTIONS:
            continue
        rest = [pair for i, pair in enumerate(pairs) if i != index and pair[0] != "_next"]
        links.append((label, value, report_url(name, "html", urlencode(rest))))
    return links


def _given(pairs: list[tuple[str, str]], name: str) -> bool:
    return any(n == name and v for n, v in pairs)


def _sort_state(pairs: list[tuple[str, str]]) -> tuple[str | None, bool]:
    for name, value in pairs:
        if name in ("_sort", "_sort_desc") and value:
            return label_key(value), name == "_sort_desc"
    return None, False


@dataclass(frozen=True)
class _Column:
    label: str
    numeric: bool
    sort_url: str
    aria_sort: str | None  # "ascending" / "descending" for the column the rows are sorted by


def _header(
    name: str,
    pairs: list[tuple[str, str]],
    label: str,
    kind: Kind,
    sort_key: str | None,
    descending: bool,
) -> _Column:
    """A column header: a link that sorts by it (reversing the current order), from page one."""
    current = label_key(label) == sort_key
    option = "_sort_desc" if current and not descending else "_sort"
    changes: dict[str, str | None] = {"_sort": None, "_sort_desc": None, "_next": None}
    changes[option] = label
    aria = ("descending" if descending else "ascending") if current else None
    url = report_url(name, "html", query_with(pairs, changes))
    return _Column(label, kind != "text", url, aria)


def _cell(value: Cell, kind: Kind) -> tuple[str, str | None]:
    """A cell as shown, and its raw value (numbers only) for copying and sorting."""
    if value is None:
        return "", None
    if kind == "text":
        return str(value), None
    return display_number(value, kind), format_number(value)  # type: ignore[arg-type]


def _format_links(
    name: str, pairs: list[tuple[str, str]], *, explicit_size: bool
) -> list[tuple[str, str]]:
    """This view in the other formats. Without an asked ``_size`` they give every row (the
    page size is the browser's), so the page position goes too."""
    base = pairs if explicit_size else [(n, v) for n, v in pairs if n != "_next"]

    def url(fmt: str, **changes: str) -> str:
        return report_url(name, fmt, query_with(base, changes))

    return [
        ("CSV", url("csv")),
        ("JSON", url("json")),
        ("Excel (.xlsx)", url("xlsx")),
        ("Download CSV", url("csv", download="1")),
        ("Download JSON", url("json", download="1")),
        ("Download Excel (.xlsx)", url("xlsx", download="1")),
        ("Download CSV for Excel", url("csv", excel="1", download="1")),
        ("Download CSV for Excel (pt-BR)", url("csv", excel="br", download="1")),
    ]


def _paging_links(
    name: str, pairs: list[tuple[str, str]], page: Page
) -> list[tuple[str, str, str]]:
    """(label, url, rel) of the paging links: next, first, and every row as CSV."""
    links = []
    if page.next is not None:
        links.append(
            ("Next page", report_url(name, "html", query_with(pairs, {"_next": page.next})), "next")
        )
    if page.offset > 0:
        links.append(
            ("First page", report_url(name, "html", query_with(pairs, {"_next": None})), "first")
        )
    every = query_with(pairs, {"_next": None, "_size": None})
    links.append((f"All {page.total:,} rows as CSV", report_url(name, "csv", every), "alternate"))
    return links


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


__all__ = [
    "HTML_PAGE_SIZE",
    "render_error_html",
    "render_html",
    "render_index_html",
    "report_links",
    "report_url",
]
