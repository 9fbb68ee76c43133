"""Report URLs and routes, in one place: every link the program writes, and the rules that read
them back.

- ``report_url``: a report's root-relative URL in a format, with a query.
- ``report_links``, ``next_page_url``, ``page_links``, ``facet_links``: the links of the index,
  of a JSON page and of an HTML page, planned here and handed to the renderers as values
  (``render.links``); ``form_target``: where the page's filter form leads.
- ``history_url``, ``snapshot_links``: the snapshot list's pages, and each snapshot's reports.
- ``PROBE_PATHS``: the health probes' paths; ``unreachable_platform``: a platform value that
  cannot be the first segment of its reports' paths (``RESERVED_SEGMENTS`` are ours).
- ``ROUTES`` and ``CONVERTERS``: the report URLs as werkzeug rules (``HISTORY_ROUTES``: the
  snapshot list's). The Flask app registers
  them, and the CLI matches a report name against the same rules (``parse_report``), so both
  accept the same names and formats and refuse the rest with the same words.
- ``VIEW_ROUTE``: a saved view's path (its links and what it may change: ``view_urls``).

No Flask here (werkzeug's routing only), so the CLI plans the same links as the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule

from .errors import InvalidRequest, UnknownReport, UnsupportedFormat
from .formats import DEFAULT_FORMAT, FORMATS, format_choices
from .redaction import VIEW_ID
from .render.links import FacetLinks, FilterForm, PageLinks, ReportLink, SortLink
from .reports.facets import Facet
from .reports.filters import OPERATORS, BadFilter, parse_filter
from .reports.metrics import label_key
from .reports.numbers import Number, format_number, shown
from .reports.options import (
    FORM_OPTIONS,
    FORMAT_ONLY_OPTIONS,
    OTHER_OPTIONS,
    SECRET_OPTIONS,
    TABLE_OPTIONS,
    RatioMode,
)
from .reports.slicing import Page
from .reports.spec import GENERAL, SUMMARY, ReportSpec, all_reports

Pairs = list[tuple[str, str]]

# The liveness and readiness probes (the host answers them on threads of their own).
PROBE_PATHS = ("/healthz", "/readyz")
# The snapshot list's path segment (``history_page``).
HISTORY = "history"
# First path segments a platform value must not take: /geral is the general report, /resumo reads
# as a summary, the probes and the snapshot list are ours (the app's rules are checked against
# this set in the tests).
RESERVED_SEGMENTS = frozenset(
    {GENERAL, SUMMARY, HISTORY, *(path.lstrip("/") for path in PROBE_PATHS)}
)


def unreachable_platform(values: Iterable[str]) -> str | None:
    """Why the first of ``values`` that cannot be its reports' path segment cannot (empty, one
    of ours, or holding a dot, which starts the format suffix, or a slash); None when all can.
    Such a platform's reports could never be asked for, so a report holding it is refused."""
    for value in values:
        if not value.strip() or value in RESERVED_SEGMENTS or "." in value or "/" in value:
            ours = ", ".join(sorted(RESERVED_SEGMENTS))
            return (
                f"the platform value {shown(value)} cannot be a report path here (it is empty, "
                f"one of ours: {ours}, or holds a dot or a slash), so its reports could not be "
                "reached"
            )
    return None


def report_url(spec: ReportSpec, fmt: str, query: str = "") -> str:
    """Root-relative URL of ``spec`` in ``fmt``; the platform is escaped whole, so no value
    (``//x``, ``javascript:``, ``\\x``) can make it leave this site or change its path."""
    path = "/" + quote(spec.platform or GENERAL, safe="")
    if spec.summary:
        path += "/" + SUMMARY
    path += f".{fmt}"
    return f"{path}?{query}" if query else path


def history_url(fmt: str = "", query: str = "") -> str:
    """Root-relative URL of the snapshot list, in ``fmt`` ("": as the client prefers)."""
    path = f"/{HISTORY}.{fmt}" if fmt else f"/{HISTORY}"
    return f"{path}?{query}" if query else path


def snapshot_links(exact: str) -> dict[str, str]:
    """The reports as of a snapshot taken at ``exact`` (``history_query.exact_time``), and
    the general summary's change since: the links each snapshot of the list carries."""
    as_of = urlencode({"as_of": exact})
    return {
        "geral": report_url(ReportSpec(None), "html", as_of),
        "geral/resumo": report_url(ReportSpec(None, summary=True), "html", as_of),
        "change since": report_url(
            ReportSpec(None, summary=True), "html", urlencode({"since": exact})
        ),
    }


def query_with(pairs: Iterable[tuple[str, str]], changes: Mapping[str, str | None]) -> str:
    """The query string of ``pairs`` with each name of ``changes`` set to its value (None:
    removed): in place of its first occurrence, or at the end."""
    out: Pairs = []
    done: set[str] = set()
    for name, value in pairs:
        if name not in changes:
            out.append((name, value))
        elif name not in done:
            done.add(name)
            new = changes[name]
            if new is not None:
                out.append((name, new))
    out.extend((name, new) for name, new in changes.items() if name not in done and new is not None)
    return urlencode(out)


def report_links(reports: Iterable[ReportSpec], query: str = "") -> list[ReportLink]:
    """Each report with its URL in every format, each carrying ``query``."""
    return [
        ReportLink(spec.name, {fmt: report_url(spec, fmt, query) for fmt in FORMATS})
        for spec in reports
    ]


def next_page_url(
    spec: ReportSpec, fmt: str, query: Iterable[tuple[str, str]], page: Page | None
) -> str | None:
    """Root-relative URL of the page after ``page`` of ``spec`` in ``fmt`` (e.g. the ``next``
    of a JSON page), with the request's options; None on the last page or a whole table. The
    access key is left out: it never appears in a response body."""
    if page is None or page.next is None:
        return None
    pairs = [(n, v) for n, v in query if n not in SECRET_OPTIONS]
    return report_url(spec, fmt, query_with(pairs, {"_next": page.next}))


def page_links(
    spec: ReportSpec,
    columns: Sequence[str],
    query: Iterable[tuple[str, str]],
    page: Page | None,
    ratios: RatioMode,
) -> PageLinks:
    """Every link of the HTML page of ``spec`` with ``columns``: the request's options
    (``query``) carried by each link, but never the access key nor another format's options;
    ``page``: where the page sits (None: the whole table), its facets and the ad columns a
    filter may name; ``ratios``: the summary mode."""
    pairs = _shown(query)
    switched = query_with(pairs, {"ratios": None if ratios == "sum" else "sum"})
    kept = [(n, v) for n, v in pairs if n not in ("_next", "_search")]
    return PageLinks(
        formats=_format_links(spec, pairs),
        sort=_sort_links(spec, pairs, columns),
        paging=_paging_links(spec, pairs, page) if page is not None and page.paged else (),
        filters=_filter_links(spec, pairs),
        ratios_switch=report_url(spec, "html", switched),
        reports=_family(spec, pairs),
        facets=facet_links(spec, "html", pairs, () if page is None else page.facets),
        form=FilterForm(
            report_url(spec, "html"),
            tuple(kept),
            tuple(page.filterable if page is not None and page.filterable else columns),
            next((v for n, v in pairs if n == "_search"), ""),
        ),
    )


def facet_links(
    spec: ReportSpec, fmt: str, query: Iterable[tuple[str, str]], facets: Iterable[Facet]
) -> tuple[FacetLinks, ...]:
    """Each facet value's link in ``fmt``: the request's options with that value's filter
    added (``Column=value``), or taken away when it is in force; from the first page."""
    pairs = [(n, v) for n, v in _shown(query) if n != "_next"]
    planned = []
    for facet in facets:
        key = label_key(facet.column)
        values = []
        for value in facet.values:
            text = "" if value.value is None else _text(value.value)
            chosen = [
                i
                for i, (name, given) in enumerate(pairs)
                if given == text and label_key(name.removesuffix("__exact")) == key
            ]
            if chosen:
                toggled = [pair for i, pair in enumerate(pairs) if i not in chosen]
            else:
                toggled = [*pairs, (facet.column, text)]
            values.append((value, report_url(spec, fmt, urlencode(toggled)), bool(chosen)))
        planned.append(FacetLinks(facet, tuple(values)))
    return tuple(planned)


def form_target(spec: ReportSpec, fmt: str, query: Iterable[tuple[str, str]]) -> str | None:
    """Where the page's filter form sends a browser: the same report with the form's filter
    (``_filter_column``, ``_filter_op``, ``_filter_value``) written as ``Column__op=value``,
    from the first page, as Datasette's form does; None when the query holds no form field."""
    pairs = list(query)
    if not any(name in FORM_OPTIONS for name, _ in pairs):
        return None
    form = {name: value for name, value in reversed(pairs) if name in FORM_OPTIONS}
    column = form.get("_filter_column", "").strip()
    op = form.get("_filter_op", "exact") or "exact"
    value = form.get("_filter_value", "")
    if op not in OPERATORS:
        raise InvalidRequest(f"_filter_op: no operator {op!r}; operators: {', '.join(OPERATORS)}")
    rest = [
        (name, given)
        for name, given in pairs
        if name not in FORM_OPTIONS and name != "_next" and (name != "_search" or given.strip())
    ]
    if column and (value or op == "isblank"):
        rest.append((column if op == "exact" else f"{column}__{op}", value or "1"))
    return report_url(spec, fmt, urlencode(rest))


def _shown(query: Iterable[tuple[str, str]]) -> Pairs:
    """The query a page's links carry: never the access key nor another format's options."""
    return [(n, v) for n, v in query if n not in FORMAT_ONLY_OPTIONS and n not in SECRET_OPTIONS]


def _text(value: Number | str) -> str:
    """A cell as a filter's value spells it (numbers as the CSV prints them)."""
    return value if isinstance(value, str) else format_number(value)


def _format_links(spec: ReportSpec, pairs: Pairs) -> tuple[tuple[str, str], ...]:
    """This view in the other formats: the whole sliced report, every page of it (a page's
    size and position are the browser's; a file takes every row)."""
    base = [(n, v) for n, v in pairs if n not in ("_size", "_next")]

    def url(fmt: str, **changes: str) -> str:
        return report_url(spec, fmt, query_with(base, changes))

    return (
        ("CSV", url("csv")),
        ("JSON", url("json")),
        ("Excel (.xlsx)", url("xlsx")),
        ("Download CSV", url("csv", download="1")),
        ("Download JSON", url("json", download="1")),
        ("Download Excel (.xlsx)", url("xlsx", download="1")),
        ("Download CSV for Excel", url("csv", excel="1", download="1")),
        ("Download CSV for Excel (pt-BR)", url("csv", excel="br", download="1")),
    )


def sorted_by(pairs: Pairs) -> tuple[str | None, bool]:
    """The label key the rows are sorted by (None: report order), and whether descending."""
    for name, value in pairs:
        if name in ("_sort", "_sort_desc") and value:
            return label_key(value), name == "_sort_desc"
    return None, False


def _sort_links(spec: ReportSpec, pairs: Pairs, columns: Sequence[str]) -> tuple[SortLink, ...]:
    """Each column header's link: sort by it (reversing the current order), from page one."""
    sort_key, descending = sorted_by(pairs)
    links = []
    for label in columns:
        current = label_key(label) == sort_key
        option = "_sort_desc" if current and not descending else "_sort"
        changes: dict[str, str | None] = {"_sort": None, "_sort_desc": None, "_next": None}
        changes[option] = label
        order = ("descending" if descending else "ascending") if current else None
        links.append(SortLink(report_url(spec, "html", query_with(pairs, changes)), order))
    return tuple(links)


def _paging_links(spec: ReportSpec, pairs: Pairs, page: Page) -> tuple[tuple[str, str, str], ...]:
    """(label, url, rel) of the paging links: next, first, and every row as CSV."""
    links = []
    if page.next is not None:
        following = report_url(spec, "html", query_with(pairs, {"_next": page.next}))
        links.append(("Next page", following, "next"))
    if page.offset > 0:
        first = report_url(spec, "html", query_with(pairs, {"_next": None}))
        links.append(("First page", first, "first"))
    every = query_with(pairs, {"_next": None, "_size": None})
    links.append((f"All {page.total:,} rows as CSV", report_url(spec, "csv", every), "alternate"))
    return tuple(links)


def _filter_links(spec: ReportSpec, pairs: Pairs) -> tuple[tuple[str, str | None], ...]:
    """(the filter in words, URL of this page without it) of each filter and search in force:
    the page's chips."""
    links: list[tuple[str, str | None]] = []
    for index, (name, value) in enumerate(pairs):
        words = filter_words(name, value)
        if words is not None:
            rest = [pair for i, pair in enumerate(pairs) if i != index and pair[0] != "_next"]
            links.append((words, report_url(spec, "html", urlencode(rest))))
    return tuple(links)


def filter_words(name: str, value: str) -> str | None:
    """A filter or search of a query in words; None for any other option."""
    if name == "_search":
        return f"search “{value.strip()}”" if value.strip() else None
    if name.startswith("_") or name in OTHER_OPTIONS:
        return None
    try:
        return parse_filter(name, value).words()
    except BadFilter:
        return f"{name} = “{value}”"


def _family(spec: ReportSpec, pairs: Pairs) -> tuple[ReportLink, ...]:
    """The general pair of reports, then the platform's pair. They share the ad columns, so
    the filters carry over; the options of the output table do not."""
    query = urlencode([(n, v) for n, v in pairs if n not in TABLE_OPTIONS])
    family = all_reports([] if spec.platform is None else [spec.platform])
    return tuple(report_links(family, query))


# ---------------------------------------------------------------------------------------------
# Routing: the report URLs as rules, shared by the app and the CLI


class _Segment(BaseConverter):
    """One path segment without dots: a platform value as our URLs spell it."""

    regex = r"[^/.]+"

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe="")


class _Suffix(BaseConverter):
    """An optional ``.suffix`` ending the path: the format, checked against ``FORMATS`` by
    ``resolve`` (an unknown one must say which formats exist, not merely "not found")."""

    regex = r"(?:\.[^/]+)?"

    def to_python(self, value: str) -> str:
        return value[1:] if value else DEFAULT_FORMAT

    def to_url(self, value: Any) -> str:
        return f".{value}"


class _ViewId(BaseConverter):
    """A view id as ``store.keys.new_secret`` makes them, and nothing else: ``/v/resumo`` stays
    a platform's summary."""

    regex = VIEW_ID


class _OwnSuffix(_Suffix):
    """An optional format suffix, "" when absent (a view's own format)."""

    def to_python(self, value: str) -> str:
        return value[1:]


CONVERTERS: dict[str, type[BaseConverter]] = {
    "segment": _Segment,
    "suffix": _Suffix,
    "viewid": _ViewId,
    "own_suffix": _OwnSuffix,
}
# The snapshot list (``history_page``): HTML or JSON by suffix, or bare by the Accept header.
HISTORY_ROUTES = (f"/{HISTORY}", f"/{HISTORY}.<fmt>")
# (rule, endpoint, whether the report is a summary)
ROUTES: tuple[tuple[str, str, bool], ...] = (
    ("/<segment:platform><suffix:fmt>", "report", False),
    (f"/<segment:platform>/{SUMMARY}<suffix:fmt>", "summary", True),
)
VIEW_PREFIX = "/v/"
# A saved view's path (``view_urls``), in its own format or another (``fmt`` "": its own).
VIEW_ROUTE = f"{VIEW_PREFIX}<viewid:view_id><own_suffix:fmt>"


def resolve(platform: str, fmt: str, summary: bool) -> tuple[ReportSpec, str]:
    """The report and format a matched route names; ``UnsupportedFormat`` for a suffix we do
    not render (case matters: ``.CSV`` is not ``.csv``, as the URLs we publish say)."""
    if fmt not in FORMATS:
        raise UnsupportedFormat(fmt, format_choices())
    return ReportSpec(None if platform == GENERAL else platform, summary), fmt


_MAP = Map(
    [Rule(rule, endpoint=endpoint, methods=["GET"]) for rule, endpoint, _ in ROUTES],
    converters=CONVERTERS,
    merge_slashes=False,
)
_SUMMARY_ENDPOINTS = {endpoint: summary for _, endpoint, summary in ROUTES}
_REPORT_PATHS = f"{GENERAL}, {GENERAL}/{SUMMARY}, PLATFORM and PLATFORM/{SUMMARY}"


def parse_report(name: str) -> tuple[ReportSpec, str]:
    """A report name as the CLI takes it ("geral/resumo", "meta_ads.json"), matched by the
    server's own rules: the report and its format (the default without a suffix)."""
    try:
        endpoint, args = _MAP.bind("localhost").match("/" + name.lstrip("/"), method="GET")
    except HTTPException:
        raise UnknownReport(name, _REPORT_PATHS, format_choices()) from None
    return resolve(args["platform"], args["fmt"], _SUMMARY_ENDPOINTS[str(endpoint)])
