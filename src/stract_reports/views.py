"""Thin HTTP handlers: parse the request, build the table, pick a renderer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urljoin

from flask import Flask, Response, abort, current_app, jsonify, request

from .builds import shared_build
from .config import Settings
from .errors import ReportError
from .render import FORMATS, MIMETYPES, render, split_format
from .render.html import render_index_html, report_links
from .reports.names import RATIO_MODES, RatioMode, report_names
from .reports.table import Table
from .security import csp_nonce
from .service import build_table, parse_report_name
from .upstream import StractClient, fetch_platforms


def client() -> StractClient:
    """This process's upstream client."""
    return current_app.extensions["stract_client"]


def settings() -> Settings:
    """This process's settings."""
    return current_app.extensions["stract_settings"]


def index() -> Response:
    """The report owner and a link to every report in every format: JSON, or HTML for browsers."""
    owner = {
        "name": settings().owner_name,
        "email": settings().owner_email,
        "linkedin": settings().owner_linkedin,
    }
    platforms: list[str] = []
    platforms_error = None
    try:
        platforms = [platform.value for platform in fetch_platforms(client())]
    except ReportError as exc:
        platforms_error = exc.detail
    links = report_links(report_names(platforms))
    if _prefers_html():
        page = render_index_html(
            **owner, reports=links, platforms_error=platforms_error, nonce=csp_nonce()
        )
        response = Response(page, mimetype="text/html")
    else:
        body: dict[str, Any] = dict(owner)
        if platforms_error is not None:
            body["platforms_error"] = platforms_error
        body["reports"] = [
            {
                "report": link.name,
                **{fmt: urljoin(request.url_root, link.urls[fmt]) for fmt in FORMATS},
            }
            for link in links
        ]
        response = jsonify(body)
    # The same URL answers two representations: caches must key on Accept.
    response.vary.add("Accept")
    return response


def _prefers_html() -> bool:
    # Strictly greater: "*/*" or no Accept at all (curl, scripts) keeps the JSON contract.
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


def readyz() -> Response:
    """Readiness: the upstream answers its platform list."""
    platforms = fetch_platforms(client(), budget=min(settings().deadline, 5.0))
    return jsonify({"status": "ready", "platforms": len(platforms)})


def favicon() -> Response:
    """No icon: browsers ask on every page view, and the catch-all route would ask the upstream."""
    return Response(status=204)


def report(path: str) -> Response:
    """Any report, as CSV (bare path or ``.csv``), ``.json`` or ``.html``."""
    name, fmt = split_format(path)
    spec = parse_report_name(name)
    if spec is None:
        abort(404, description=f"no report at /{path}")
    ratios = request.args.get("ratios", RATIO_MODES[0])
    if ratios not in RATIO_MODES:
        abort(400, description=f"ratios must be {' or '.join(map(repr, RATIO_MODES))}")
    excel = request.args.get("excel", "")
    if excel not in ("", "br"):
        abort(400, description="the only Excel preset is excel=br")
    build = lambda: build_table(client(), spec, ratios=cast(RatioMode, ratios))  # noqa: E731
    table = shared_build((spec, ratios), build)
    return _render(table, fmt, excel_br=excel == "br")


def _render(table: Table, fmt: str, *, excel_br: bool) -> Response:
    generated_at = datetime.now(UTC)
    nonce = csp_nonce() if fmt == "html" else None
    body = render(table, fmt, generated_at=generated_at, excel_br=excel_br, nonce=nonce)
    response = Response(body, mimetype=MIMETYPES[fmt])
    if fmt != "html":
        download = request.args.get("download", "") not in ("", "0", "false")
        filename = f"stract-{table.slug}-{generated_at:%Y%m%dT%H%MZ}.{fmt}"
        disposition = "attachment" if download else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the routes."""
    app.add_url_rule("/", view_func=index)
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/readyz", view_func=readyz)
    app.add_url_rule("/favicon.ico", view_func=favicon)
    app.add_url_rule("/<path:path>", endpoint="report", view_func=report)
