"""A table, the report index and error pages as HTML: Jinja templates, always autoescaped.

No Flask here, so the CLI renders the same pages as the server. A page's only inline
``<style>`` and ``<script>`` carry ``nonce`` when one is given, for a nonce-based CSP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..catalog import ReportLink, report_links, report_url
from ..reports.names import GENERAL, report_names
from ..reports.numbers import format_number
from ..reports.table import Table
from .json import iso_utc

# autoescape=True, not select_autoescape(): every template here is HTML, whatever its name.
_ENV = Environment(
    loader=PackageLoader("stract_reports.render", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(table: Table, generated_at: datetime, *, nonce: str | None = None) -> str:
    """The table as a readable page: sortable, numbers right-aligned, links to other formats."""
    numeric = table.numeric
    rows = list(table.text_rows(format_number, str))
    downloads = [
        ("CSV", report_url(table.name, "csv")),
        ("JSON", report_url(table.name, "json")),
        ("Download CSV", report_url(table.name, "csv", "download=1")),
        ("Download JSON", report_url(table.name, "json", "download=1")),
        ("Download CSV for Excel (pt-BR)", report_url(table.name, "csv", "excel=br&download=1")),
    ]
    return _render(
        "report.html",
        nonce=nonce,
        title=table.title or table.name,
        name=table.name,
        columns=list(zip(table.columns, numeric, strict=True)),
        rows=rows,
        numeric=numeric,
        generated_at=iso_utc(generated_at),
        downloads=downloads,
        others=_related_reports(table.name),
    )


def render_index_html(
    *,
    name: str,
    email: str,
    linkedin: str,
    reports: Sequence[ReportLink],
    platforms_error: str | None = None,
    nonce: str | None = None,
) -> str:
    """The index page: the report owner and every report in every format."""
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


def _related_reports(name: str) -> list[ReportLink]:
    # The table knows only its own name; its platform's pair and the general pair follow from it.
    base = name.split("/")[0]
    return report_links(report_names([] if base == GENERAL else [base]))


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


__all__ = ["render_error_html", "render_html", "render_index_html", "report_links", "report_url"]
