"""Report identity and formats, in one place: which reports exist, their URLs, their formats.

- ``ReportSpec``: a report (a platform's or the general one; ads or summary), its name and URL.
- ``ROUTES`` and ``CONVERTERS``: the report URLs as werkzeug rules. The Flask app registers
  them, and the CLI matches a report name against the same rules, so both accept the same
  names and formats and refuse the rest with the same words.
- ``FORMATS``: the renderer registry, ``{suffix: Format(render, mimetype, ...)}``.
- ``negotiate``: the one decision of what an answer is (format, media type, download).

No Flask here (werkzeug's routing only), so the CLI and the renderers can use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule

from .errors import InvalidRequest, ReportError
from .render.csv import ExcelPreset, render_csv, render_tsv
from .render.json import render_json, render_ndjson, render_rows_array
from .reports.names import GENERAL, SUMMARY, RatioMode, report_names
from .reports.slicing import Page, query_with
from .reports.table import Table

# ---------------------------------------------------------------------------------------------
# Formats


@dataclass(frozen=True)
class Rendering:
    """What a renderer may need besides the table: the time, the CSV preset, the CSP nonce,
    the request's options (carried by an HTML page's links), the page, the JSON shape."""

    generated_at: datetime
    excel: str = ""  # a key of EXCEL_PRESETS, or "" for the plain CSV
    nonce: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    page: Page | None = None
    ratios: RatioMode = "recompute"
    shape: str = ""  # JSON: "" for the document, "array" for the bare list of rows


@dataclass(frozen=True)
class Format:
    """One output format: how to render a table, and how the answer is labelled."""

    mimetype: str
    render: Callable[[Table, Rendering], str | bytes]
    # Same table, same bytes? Then a strong ETag; JSON and HTML carry their generation time.
    deterministic: bool = False
    downloadable: bool = True  # answers ?download= with an attachment
    takes_excel: bool = False  # accepts the ?excel= presets


def _csv(table: Table, rendering: Rendering) -> str:
    return render_csv(table, excel=cast(ExcelPreset, rendering.excel or None))


def _json(table: Table, rendering: Rendering) -> str:
    if rendering.shape == "array":
        return render_rows_array(table)
    page = rendering.page
    following = page and next_page_url(table.name, "json", rendering.query, page)
    return render_json(table, rendering.generated_at, next_url=following or None)


def _html(table: Table, rendering: Rendering) -> str:
    # Imported on first use: Jinja is not needed to answer CSV or JSON.
    from .render.html import render_html

    return render_html(
        table,
        rendering.generated_at,
        nonce=rendering.nonce,
        query=rendering.query,
        page=rendering.page,
        ratios=rendering.ratios,
    )


def _xlsx(table: Table, rendering: Rendering) -> bytes:
    # Imported on first use: XlsxWriter is not needed for the other formats.
    from .render.xlsx import WorkbookTooLarge, render_xlsx

    try:
        return render_xlsx(table)
    except WorkbookTooLarge as exc:
        raise InvalidRequest(
            f"{exc}; slice the report (_col, filters, _size) or ask .csv"
        ) from None


def _tsv(table: Table, rendering: Rendering) -> str:
    return render_tsv(table)


def _ndjson(table: Table, rendering: Rendering) -> str:
    return render_ndjson(table)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The registry: a suffix and its format. The first one is the default (a URL without suffix).
FORMATS: dict[str, Format] = {
    "csv": Format("text/csv", _csv, deterministic=True, takes_excel=True),
    "json": Format("application/json", _json),
    "html": Format("text/html", _html, downloadable=False),
    "xlsx": Format(XLSX, _xlsx),  # the workbook records when it was written
    "tsv": Format("text/tab-separated-values", _tsv, deterministic=True),
    "ndjson": Format("application/x-ndjson", _ndjson, deterministic=True),
}
DEFAULT_FORMAT = next(iter(FORMATS))
# ?excel= presets of the CSV, and the file-name part that tells their downloads apart.
EXCEL_PRESETS = {"br": "excel-br", "1": "excel"}
# What a browser is shown when it navigates to a CSV: the same bytes, as text it displays.
CSV_FOR_BROWSERS = "text/plain"


class UnsupportedFormat(ReportError):
    """The URL's suffix names no format we render."""

    status = 404
    title = "unsupported format"

    def __init__(self, suffix: str) -> None:
        super().__init__(f"no format {suffix!r}; use {format_choices()}")


def format_choices() -> str:
    """The formats in words: ".csv (the default), .json or .html"."""
    first, *others = (f".{name}" for name in FORMATS)
    return f"{first} (the default), {', '.join(others[:-1])} or {others[-1]}"


def check_excel(preset: str, fmt: str) -> str:
    """``preset`` if it is an Excel preset that ``fmt`` takes ("" is none); else InvalidRequest."""
    if preset and preset not in EXCEL_PRESETS:
        names = [f"excel={name}" for name in EXCEL_PRESETS]
        known = (
            f"the only Excel preset is {names[0]}"
            if len(names) == 1
            else f"the Excel presets are {', '.join(names[:-1])} and {names[-1]}"
        )
        raise InvalidRequest(f"no Excel preset {preset!r}: {known}")
    if preset and not FORMATS[fmt].takes_excel:
        takers = ", ".join(f".{name}" for name, f in FORMATS.items() if f.takes_excel)
        raise InvalidRequest(f"excel={preset} applies to {takers} only, not .{fmt}")
    return preset


def download_name(spec: ReportSpec, fmt: str, excel: str, generated_at: datetime) -> str:
    """The file name of a download: "stract-geral-resumo-excel-br-20250201T1200Z.csv"."""
    preset = f"-{EXCEL_PRESETS[excel]}" if excel else ""
    # Only safe characters: an upstream's platform value may hold quotes or line breaks.
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", spec.slug)
    return f"stract-{slug}{preset}-{generated_at:%Y%m%dT%H%MZ}.{fmt}"


def render(table: Table, fmt: str, rendering: Rendering) -> bytes:
    """The table in format ``fmt`` (a key of ``FORMATS``), as the bytes of the answer."""
    body = FORMATS[fmt].render(table, rendering)
    return body.encode("utf-8") if isinstance(body, str) else body


# ---------------------------------------------------------------------------------------------
# Reports, their names and URLs


@dataclass(frozen=True)
class ReportSpec:
    """Which report: a platform's (by upstream value) or the general one, ads or summary."""

    platform: str | None
    summary: bool = False

    @classmethod
    def from_name(cls, name: str) -> ReportSpec:
        """The inverse of ``name``: "geral/resumo" -> general summary (a table keeps its name)."""
        base, slash, last = name.rpartition("/")
        summary = bool(slash) and last == SUMMARY
        platform = base if summary else name
        return cls(None if platform == GENERAL else platform, summary)

    @property
    def name(self) -> str:
        """The report's path without the leading slash: ``geral``, ``meta_ads/resumo``, ..."""
        base = self.platform or GENERAL
        return f"{base}/{SUMMARY}" if self.summary else base

    @property
    def slug(self) -> str:
        """The name as a file-name part: "geral/resumo" -> "geral-resumo"."""
        return self.name.replace("/", "-")

    def url(self, fmt: str, query: str = "") -> str:
        """Root-relative URL in ``fmt``; the platform is escaped whole, so no value (``//x``,
        ``javascript:``, ``\\x``) can make it leave this site or change its path."""
        path = "/" + quote(self.platform or GENERAL, safe="")
        if self.summary:
            path += "/" + SUMMARY
        path += f".{fmt}"
        return f"{path}?{query}" if query else path

    def related(self) -> list[ReportSpec]:
        """This report's family: the general pair, then its platform's pair."""
        platforms = [] if self.platform is None else [self.platform]
        return [ReportSpec.from_name(name) for name in report_names(platforms)]


def all_reports(platforms: Iterable[str]) -> list[ReportSpec]:
    """The general reports, then each platform's ads and summary, in the platforms' order."""
    return [
        ReportSpec(platform, summary)
        for platform in (None, *platforms)
        for summary in (False, True)
    ]


@dataclass(frozen=True)
class ReportLink:
    """One report and its root-relative URL in each format."""

    name: str
    urls: dict[str, str]


def report_url(name: str, fmt: str, query: str = "") -> str:
    """Root-relative URL of the report named ``name`` in ``fmt`` (see ``ReportSpec.url``)."""
    return ReportSpec.from_name(name).url(fmt, query)


def report_links(reports: Sequence[str | ReportSpec]) -> list[ReportLink]:
    """Each report (a spec or a name) with its URL in every format."""
    specs = [r if isinstance(r, ReportSpec) else ReportSpec.from_name(r) for r in reports]
    return [ReportLink(s.name, {fmt: s.url(fmt) for fmt in FORMATS}) for s in specs]


def next_page_url(name: str, fmt: str, query: Iterable[tuple[str, str]], page: Page) -> str | None:
    """Root-relative URL of the page after ``page`` of report ``name`` in ``fmt`` (e.g. the
    ``next`` of a JSON page), with the request's options; None on the last page. The access
    key is left out: it never appears in a response body."""
    if page.next is None:
        return None
    pairs = [(n, v) for n, v in query if n != "key"]
    return report_url(name, fmt, query_with(pairs, {"_next": page.next}))


def related_reports(name: str) -> list[ReportLink]:
    """Links to the family of the report named ``name`` (its page's navigation)."""
    return report_links(ReportSpec.from_name(name).related())


# ---------------------------------------------------------------------------------------------
# Routing: the report URLs as rules, shared by the app and the CLI


class _Segment(BaseConverter):
    """One path segment without dots: a platform value as our URLs spell it."""

    regex = r"[^/.]+"

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe="")


class _Suffix(BaseConverter):
    """An optional ``.suffix`` ending the path: the format, checked against ``FORMATS`` by
    the view (an unknown one must say which formats exist, not merely "not found")."""

    regex = r"(?:\.[^/]+)?"

    def to_python(self, value: str) -> str:
        return value[1:] if value else DEFAULT_FORMAT

    def to_url(self, value: Any) -> str:
        return f".{value}"


CONVERTERS: dict[str, type[BaseConverter]] = {"segment": _Segment, "suffix": _Suffix}
# (rule, endpoint, whether the report is a summary)
ROUTES: tuple[tuple[str, str, bool], ...] = (
    ("/<segment:platform><suffix:fmt>", "report", False),
    (f"/<segment:platform>/{SUMMARY}<suffix:fmt>", "summary", True),
)


def resolve(platform: str, fmt: str, summary: bool) -> tuple[ReportSpec, str]:
    """The report and format a matched route names; ``UnsupportedFormat`` for a suffix we do
    not render (case matters: ``.CSV`` is not ``.csv``, as the URLs we publish say)."""
    if fmt not in FORMATS:
        raise UnsupportedFormat(fmt)
    return ReportSpec(None if platform == GENERAL else platform, summary), fmt


_MAP = Map(
    [Rule(rule, endpoint=endpoint, methods=["GET"]) for rule, endpoint, _ in ROUTES],
    converters=CONVERTERS,
    merge_slashes=False,
)
_SUMMARY_ENDPOINTS = {endpoint: summary for _, endpoint, summary in ROUTES}


class UnknownReport(ReportError):
    """The name is not one of the report paths."""

    status = 404
    title = "unknown report"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name!r} is not a report; the reports are {GENERAL}, {GENERAL}/{SUMMARY}, "
            f"PLATFORM and PLATFORM/{SUMMARY}, each with an optional format suffix: "
            f"{format_choices()}"
        )


def parse_report(name: str) -> tuple[ReportSpec, str]:
    """A report name as the CLI takes it ("geral/resumo", "meta_ads.json"), matched by the
    server's own rules: the report and its format (the default without a suffix)."""
    try:
        endpoint, args = _MAP.bind("localhost").match("/" + name.lstrip("/"), method="GET")
    except HTTPException:
        raise UnknownReport(name) from None
    return resolve(args["platform"], args["fmt"], _SUMMARY_ENDPOINTS[str(endpoint)])


# ---------------------------------------------------------------------------------------------
# Content negotiation


@dataclass(frozen=True)
class Answer:
    """How a report is answered: its format, media type and Content-Disposition."""

    fmt: str
    mimetype: str
    download: bool
    varies_on_accept: bool  # the media type depends on the Accept header


def negotiate(fmt: str, *, prefers_html: bool, download: bool) -> Answer:
    """The answer for a report in ``fmt``: a browser that navigates to a CSV (prefers HTML,
    asks no download) is shown the same bytes as text; programs get ``text/csv``."""
    spec = FORMATS[fmt]
    download = download and spec.downloadable
    if fmt == "csv":
        mimetype = CSV_FOR_BROWSERS if prefers_html and not download else spec.mimetype
        return Answer(fmt, mimetype, download, varies_on_accept=True)
    return Answer(fmt, spec.mimetype, download, varies_on_accept=False)


def prefers_html(quality: Callable[[str], float]) -> bool:
    """Whether an Accept header (its ``quality`` function) puts HTML above JSON and CSV: a
    browser navigating. Strictly above: ``*/*`` or no Accept (curl, scripts) is a program."""
    html = quality("text/html")
    return html > quality("application/json") and html > quality("text/csv")


__all__ = [
    "CONVERTERS",
    "DEFAULT_FORMAT",
    "EXCEL_PRESETS",
    "FORMATS",
    "ROUTES",
    "Answer",
    "Format",
    "Rendering",
    "ReportLink",
    "ReportSpec",
    "UnknownReport",
    "UnsupportedFormat",
    "all_reports",
    "check_excel",
    "download_name",
    "format_choices",
    "negotiate",
    "parse_report",
    "prefers_html",
    "related_reports",
    "render",
    "report_links",
    "report_url",
    "resolve",
]
