"""Thin handlers: the routes, the request's options, one place that builds a report's table and
one that answers it. Which formats exist is ``formats``' business, the report URLs ``urls``'.

Every read happens within the reader's scope (``access.current_access``): the index lists the
reports in it, a build reads and lays out only what it allows (builds are shared per report and
scope), and a platform outside it answers as one that does not exist. A saved view
(``/v/<id>``) is its key's scope, report and options, with only ``VIEW_OPTIONS`` from its URL.

Every answer is charged against the process's memory budget (``memory``): its build while the
pages arrive, then the slice it cuts and the answer it draws, until its last byte is sent (the
build it reads is kept until then too); past the budget, a 503 before any byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from flask import Flask, Response, jsonify, request

from .access import VIEW_ENDPOINT, current_access
from .error_pages import NO_ROUTE, error_response
from .errors import ReportError, UnsupportedFormat
from .extensions import (
    current_budget,
    current_client,
    current_gate,
    current_settings,
    current_sources,
    current_store,
)
from .formats import FORMATS, download_name, format_choices, negotiate, prefers_html
from .gate import request_arrival
from .history import Past, history_for
from .memory import Charge
from .pipeline import Source, build_source, check_paths, slice_bytes, slice_for, slice_source
from .records import Read
from .render.chart import render_chart_svg
from .render.csv import WARNINGS_HEADER, warnings_header
from .render.html import render_index_html
from .render.links import Share
from .render.notes import HistoryNote
from .renderers import RENDERING, ViewPage, answer_bytes, plan_rendering, render_chunks
from .report_options import ReportOptions, read_options
from .reports.ingest import AdColumns
from .reports.slicing import Page
from .reports.spec import ReportSpec, all_reports
from .reports.table import Table
from .scope import Scope
from .security import csp_nonce
from .transfer import deliver, entity_tag
from .upstream import FetchLimits, fetch_platforms
from .upstream.fleet import DEGRADED, DOWN
from .urls import (
    CONVERTERS,
    PROBE_PATHS,
    ROUTES,
    VIEW_ROUTE,
    form_target,
    history_url,
    report_links,
    report_url,
    resolve,
)
from .view_urls import save_share, view_path, view_query, view_share

T = TypeVar("T")

# Seconds /readyz waits for the platform list: a probe must answer well within its own timeout.
READY_BUDGET = 2.0
ROBOTS = "User-agent: *\nDisallow: /\n"
# The header that says which snapshots a report from the store used (their times, in UTC).
SNAPSHOT_HEADER = "Stract-Snapshot"


def index() -> Response:
    """The report owner, a link to every report in every format and one to the snapshot list:
    JSON, or HTML for browsers.

    JSON: one upstream call (the platform list). HTML also draws the ``/geral/resumo`` chart,
    through the same shared build as that report. Links are root-relative and escaped, built
    from the platform values, never from the request's Host header.
    """
    settings = current_settings()
    owner = {
        "name": settings.owner_name,
        "email": settings.owner_email,
        "linkedin": settings.owner_linkedin,
    }
    platforms: list[str] = []
    platforms_error = None
    scope = current_access().scope
    try:
        limits = FetchLimits.from_settings(settings)
        values = [platform.value for platform in fetch_platforms(current_client(), limits)]
        check_paths(current_client(), values)
        platforms = [value for value in values if scope is None or scope.sees_platform(value)]
    except ReportError as exc:
        platforms_error = exc.detail
    links = report_links(all_reports(platforms))
    if prefers_html(request.accept_mimetypes.quality):
        page = render_index_html(
            **owner,
            reports=links,
            platforms_error=platforms_error,
            nonce=csp_nonce(),
            chart=None if platforms_error else _summary_chart(),
            chart_url=report_url(ReportSpec(None, summary=True), "html"),
            history_url=history_url("html"),
        )
        response = Response(page, mimetype="text/html")
    else:
        body: dict[str, Any] = dict(owner)
        if platforms_error is not None:
            body["platforms_error"] = platforms_error
        body["reports"] = [{"report": link.name, **link.urls} for link in links]
        body["history"] = history_url("json")
        response = jsonify(body)
    # The same URL answers two representations: caches must key on Accept.
    response.vary.add("Accept")
    response.headers["Cache-Control"] = "no-store"
    return response


def _summary_chart() -> str | None:
    """The ``/geral/resumo`` chart, or None when that report cannot be built now (the index
    still answers: it lists the reports, and each one says why it fails)."""
    spec = ReportSpec(None, summary=True)
    try:
        return render_chart_svg(slice_source(live_source(spec, current_access().scope))[0])
    except ReportError:
        return None


def robots() -> Response:
    """``/robots.txt``: reports are private by default, so no crawler is welcome (no upstream
    call, no key needed)."""
    return Response(ROBOTS, mimetype="text/plain")


def without_slash(**_: str) -> Response:
    """``/geral/`` -> 308 to ``/geral``, the query kept: a report is a file, not a folder, as
    Flask's strict slashes redirect the other way for folders. The Location is root-relative
    and escaped (``/\\evil.example/`` goes to ``/%5Cevil.example``, never off this site); the
    access key was taken out of the query before the app saw it, so it is not repeated."""
    path = quote(request.path[:-1], safe="/")
    query = urlencode(list(request.args.items(multi=True)))
    response = Response(status=308)
    response.headers["Location"] = f"{path}?{query}" if query else path
    return response


def healthz() -> Response:
    """Liveness: the process answers (no upstream call)."""
    return jsonify({"status": "ok"})


def readyz() -> Response:
    """Readiness: the upstream answers its platform list in time; else 503, whatever failed
    (down, refusing, or our pool too busy to ask it), so an orchestrator routes elsewhere.

    ``shared`` tells the state of the fleet's Redis (``connected``, ``degraded`` when it answers
    slower than the breaker allows, ``down`` or ``off``), with its recent latency in
    ``shared_latency_ms``, and ``store`` the store's (``ok``, ``down`` or ``off``). Redis
    degraded or down, or the store down, is still ready: reports work, each process reading on
    its own, their reads not recorded until the store is back.
    """
    try:
        limits = FetchLimits.from_settings(current_settings())
        limits = replace(limits, deadline=min(limits.deadline, READY_BUDGET))
        platforms = fetch_platforms(current_client(), limits)
    except ReportError as exc:
        response = error_response(503, "not ready", f"{exc.title}: {exc.detail}")
        response.headers["Retry-After"] = "1"
        return response
    scope = current_access().scope
    if scope is not None:  # a scoped key counts the platforms it sees
        platforms = [p for p in platforms if scope.sees_platform(p.value)]
    body: dict[str, object] = {"status": "ready", "platforms": len(platforms)}
    state, latency = current_client().shared.health()
    body["shared"] = state
    if latency is not None:
        body["shared_latency_ms"] = round(latency * 1000, 1)
    if state in SHARED_DETAILS:
        body["shared_detail"] = SHARED_DETAILS[state]
    store = current_store().state
    body["store"] = store.status
    if store.status == "down":
        body["store_detail"] = (
            f"the store (STRACT_STORE_URL) cannot be written: {store.detail}; reports still "
            "work, live, and their reads are recorded again once it can"
        )
    return jsonify(body)


# What /readyz adds when the fleet's Redis is not helping: reports work, but on their own.
SHARED_DETAILS = {
    DOWN: "the shared Redis (STRACT_SHARED_URL) is unreachable: reports still work, each server "
    "process reading the upstream on its own until it answers again",
    DEGRADED: "the shared Redis (STRACT_SHARED_URL) answers too slowly: reports still work, each "
    "server process reading the upstream on its own until it answers in time again",
}


def report(platform: str, fmt: str, summary: bool) -> Response:
    """A report in a format: ``/{platform|geral}[/resumo][.csv|.json|.html|...]``."""
    spec, fmt = resolve(platform, fmt, summary)
    target = form_target(spec, fmt, request.args.items(multi=True))
    if target is not None:  # the page's filter form: to the filter's own URL, as a link has it
        return Response(status=303, headers={"Location": target})
    options = read_options(fmt, spec, request.args.items(multi=True))
    charge = answer_charge(spec, fmt)
    try:
        table, page, note = build_report(spec, fmt, options, current_access().scope, charge)
        share = _save_share(spec, options) if FORMATS[fmt].links else None
        return answer_report(table, page, spec, fmt, options, charge, note=note, share=share)
    except BaseException:
        charge.close()
        raise


def saved_view(view_id: str, fmt: str) -> Response:
    """A saved view, ``/v/<id>[.format]``: its report with its options and its key's scope
    (``access`` found it); from the URL only ``VIEW_OPTIONS``."""
    view = current_access().view
    if view is None:  # no store, or no such view: what an unknown path answers
        return error_response(404, "not found", NO_ROUTE)
    fmt = fmt or view.format
    if fmt not in FORMATS:
        raise UnsupportedFormat(fmt, format_choices())
    spec = ReportSpec.from_name(view.report)
    asked = list(request.args.items(multi=True))
    pairs = view_query(view.query, asked, fmt=fmt, own_fmt=view.format)
    options = read_options(fmt, spec, pairs)
    charge = answer_charge(spec, fmt)
    try:
        table, page, note = build_report(spec, fmt, options, view.key.scope, charge)
        page_of = ViewPage(view_path(view_id), tuple(asked))
        share = view_share(_root(), view_id, view.format) if FORMATS[fmt].links else None
        return answer_report(
            table, page, spec, fmt, options, charge, note=note, view=page_of, share=share
        )
    except BaseException:
        charge.close()
        raise


def answer_charge(spec: ReportSpec, fmt: str) -> Charge:
    """The memory charge of one answer, empty until its slice and its drawing are counted."""
    return current_budget().charge(f"the answer /{spec.name}.{fmt}")


def _save_share(spec: ReportSpec, options: ReportOptions) -> Share | None:
    """What a report's page offers to copy: the command that saves it as a view (with a
    store; a view needs one)."""
    if current_store().off:
        return None
    key = current_access().key
    return save_share(spec, options.query, None if key is None else key.name)


# The address this server was asked at, for the formulas a person copies (text, never a link):
# a Host header that is no host name gives a placeholder.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _root() -> str:
    host = request.host if _HOST.fullmatch(request.host) else "HOST"
    return f"{request.scheme}://{host}"


def build_report(
    spec: ReportSpec, fmt: str, options: ReportOptions, scope: Scope | None, charge: Charge
) -> tuple[Table, Page, HistoryNote | None]:
    """The one place a report's table is built: the upstream read now and the ads laid out
    within ``scope``, shared by the requests that overlap it (``gate.py``: every format and
    slice of one report in one scope shares one build), then the slice this request asked
    for, counted in the answer's ``charge`` (which keeps the build until it ends); or, with
    history options, from the store (``history.py``) within the same scope, with what it says
    of the snapshots it used."""
    if not options.history.asked:
        source = live_source(spec, scope)
        charge.hold(source)
        charge.grow(slice_bytes(source, options.slice))
        table, page = slice_for(source, fmt, options)
        return table, page, None
    past = Past(
        current_store().require(),
        current_sources(),
        shared_build,
        lambda: live_source(spec, scope, identify=True),
        scope=None if scope is None or scope.full else scope,
    )
    return history_for(past, spec, fmt, options)


def live_source(spec: ReportSpec, scope: Scope | None, *, identify: bool = False) -> Source:
    """``spec`` read from the upstream now within ``scope`` (None: everything), shared with
    the overlapping requests of the same scope (never between two scopes), and recorded when
    it is the whole upstream's."""
    client, store = current_client(), current_store()
    scope = None if scope is None or scope.full else scope

    def record(read: Read, assembled: AdColumns) -> None:
        store.record(read, assembled, "request")

    # With identities the build is another one: every report over time needs them, others not.
    key = (spec, scope, identify)
    budget = current_budget()
    return shared_build(
        key,
        lambda: build_source(
            client, spec, scope=scope, on_read=record, identify=identify, budget=budget
        ),
    )


def answer_report(
    table: Table,
    page: Page,
    spec: ReportSpec,
    fmt: str,
    options: ReportOptions,
    charge: Charge,
    *,
    note: HistoryNote | None = None,
    view: ViewPage | None = None,
    share: Share | None = None,
) -> Response:
    """The one place a table becomes the answer: render, label, validate, compress; its
    drawing counted in ``charge`` first, which ends once its last byte is sent."""
    answer = negotiate(
        fmt, prefers_html=prefers_html(request.accept_mimetypes.quality), download=options.download
    )
    generated_at = datetime.now(UTC)
    rendering = plan_rendering(
        table,
        fmt,
        generated_at,
        query=options.query,
        page=page,
        ratios=options.ratios,
        excel=options.excel,
        nonce=csp_nonce() if FORMATS[fmt].nonce else None,
        shape=options.shape,
        # Drawing the answer counts against the report's deadline, from the request's arrival.
        deadline=request_arrival(request.environ) + current_settings().deadline,
        note=note,
        view=view,
        share=share,
    )
    charge.grow(answer_bytes(table, fmt))
    # Every byte of the upstream read is in by now: the body goes out as it is rendered.
    response = Response(render_chunks(table, fmt, rendering), mimetype=answer.mimetype)
    if note is not None:
        response.headers[SNAPSHOT_HEADER] = note.header
    if FORMATS[fmt].downloadable:
        when = note.file_part if note is not None else None
        filename = download_name(spec, fmt, options.excel, generated_at, options.query, when)
        disposition = "attachment" if answer.download else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    warnings = warnings_header(table)
    if warnings:  # JSON and HTML carry them in the body too; a CSV has no place but here
        response.headers[WARNINGS_HEADER] = warnings
    if answer.varies_on_accept:
        response.vary.add("Accept")
    etag = _etag(table, answer.mimetype, fmt, (options.query, rendering.share))
    delivered = deliver(request, response, etag)
    delivered.call_on_close(charge.close)
    return delivered


def _etag(table: Table, mimetype: str, fmt: str, shown: object = None) -> str:
    """Over what the body is made of, known before its first byte: the content digest of the
    upstream read (``table.digest``; a report from the store: of the snapshots it used), the
    report, the format and media type, the options (the query) and what else the body
    ``shown`` (a saved view's options, the lines a page offers to copy). Strong where the
    format is deterministic (the same of all these, the same bytes); weak where the body
    carries its generation time (see transfer.py)."""
    head = repr((table.spec.name, fmt, mimetype, RENDERING, shown))
    weak = not FORMATS[fmt].deterministic
    return entity_tag(head, table.digest, request.query_string, weak=weak)


def shared_build(key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` through this app's gate, for this request as the host stamped its arrival."""
    return current_gate().get(key, request_arrival(request.environ), build)


def init_app(app: Flask) -> None:
    """Register the routes: the index, the probes, and the report URLs of ``urls``."""
    # "//geral" is no report: merging slashes would redirect it (Location from the Host header).
    app.url_map.merge_slashes = False
    app.url_map.converters.update(CONVERTERS)
    app.add_url_rule("/", view_func=index)
    healthz_path, readyz_path = PROBE_PATHS
    app.add_url_rule(healthz_path, view_func=healthz)
    app.add_url_rule(readyz_path, view_func=readyz)
    app.add_url_rule("/robots.txt", view_func=robots)
    for rule, endpoint, summary in ROUTES:
        app.add_url_rule(rule, endpoint, view_func=report, defaults={"summary": summary})
        app.add_url_rule(f"{rule}/", f"{endpoint}_slash", view_func=without_slash)
    app.add_url_rule(VIEW_ROUTE, VIEW_ENDPOINT, view_func=saved_view)
