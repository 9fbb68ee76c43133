"""Thin handlers: the routes, the request's options, one place that builds a report's table and
one that answers it. Which formats exist is ``formats``' business, the report URLs ``urls``'."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from flask import Flask, Response, jsonify, request

from .error_pages import error_response
from .errors import ReportError
from .extensions import (
    current_client,
    current_gate,
    current_settings,
    current_sources,
    current_store,
)
from .formats import FORMATS, download_name, negotiate, prefers_html
from .gate import request_arrival
from .history import Past, history_report
from .pipeline import Source, build_source, check_paths, slice_for, slice_source
from .records import Read
from .render.chart import render_chart_svg
from .render.csv import WARNINGS_HEADER, warnings_header
from .render.html import render_index_html
from .render.notes import HistoryNote
from .renderers import RENDERING, plan_rendering, render_chunks
from .report_options import ReportOptions, read_options
from .reports.ingest import AdColumns
from .reports.slicing import Page
from .reports.spec import ReportSpec, all_reports
from .reports.table import Table
from .security import csp_nonce
from .transfer import deliver, entity_tag
from .upstream import FetchLimits, fetch_platforms
from .upstream.fleet import DEGRADED, DOWN
from .urls import (
    CONVERTERS,
    PROBE_PATHS,
    ROUTES,
    form_target,
    history_url,
    report_links,
    report_url,
    resolve,
)

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
    try:
        limits = FetchLimits.from_settings(settings)
        values = [platform.value for platform in fetch_platforms(current_client(), limits)]
        check_paths(current_client(), values)
        platforms = values
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
        return render_chart_svg(slice_source(live_source(spec))[0])
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
    table, page, note = build_report(spec, fmt, options)
    return answer_report(table, page, spec, fmt, options, note)


def build_report(
    spec: ReportSpec, fmt: str, options: ReportOptions
) -> tuple[Table, Page, HistoryNote | None]:
    """The one place a report's table is built: the upstream read now and the ads laid out,
    shared by the requests that overlap it (``gate.py``: every format and slice of one report
    shares one build), then the slice this request asked for; or, with history options, from
    the store (``history.py``), with what it says of the snapshots it used."""
    if not options.history.asked:
        table, page = slice_for(live_source(spec), fmt, options)
        return table, page, None
    shown = FORMATS[fmt]
    past = Past(
        current_store().require(),
        current_sources(),
        shared_build,
        lambda: live_source(spec, identify=True),
    )
    return history_report(
        past,
        spec,
        options.history,
        options.slice,
        ratios=options.ratios,
        page_size=shown.page_size,
        totals=shown.totals,
        now=options.now,
    )


def live_source(spec: ReportSpec, *, identify: bool = False) -> Source:
    """``spec`` read from the upstream now (shared with overlapping requests), and recorded."""
    client, store = current_client(), current_store()

    def record(read: Read, assembled: AdColumns) -> None:
        store.record(read, assembled, "request")

    # With identities the build is another one: every report over time needs them, others not.
    key = ("identified", spec) if identify else spec
    return shared_build(key, lambda: build_source(client, spec, on_read=record, identify=identify))


def answer_report(
    table: Table,
    page: Page,
    spec: ReportSpec,
    fmt: str,
    options: ReportOptions,
    note: HistoryNote | None = None,
) -> Response:
    """The one place a table becomes the answer: render, label, validate, compress."""
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
    )
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
    return deliver(request, response, _etag(table, answer.mimetype, fmt))


def _etag(table: Table, mimetype: str, fmt: str) -> str:
    """Over what the body is made of, known before its first byte: the content digest of the
    upstream read (``table.digest``; a report from the store: of the snapshots it used), the
    report, the format and media type, and the options (the query). Strong where the format
    is deterministic (the same of all these, the same bytes); weak where the body carries its
    generation time (see transfer.py)."""
    head = repr((table.spec.name, fmt, mimetype, RENDERING))
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
