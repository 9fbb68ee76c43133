"""One error shape for every failure: ``{"error", "detail", "status"}``, never a token.

A failed ``.html`` report answers the same three values as an HTML page; everything else JSON.
Unknown paths, wrong methods (with ``Allow``), over-long URLs and Flask's own errors take the
same shape. Every detail is redacted of every secret the process knows (``redaction``); log
lines quote the request path with control characters escaped.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

from flask import Flask, Response, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound, RequestURITooLarge

from .errors import Overloaded, ReportError, UpstreamRateLimited
from .redaction import mask_known, printable
from .render.html import render_error_html
from .security import csp_nonce

log = logging.getLogger(__name__)

# The longest request target (path and query) the app answers; a longer one is 414. Keep the
# server's own limit above it (waitress counts the request line in its headers' 64 KiB,
# http_server.MAX_HEADER_BYTES), so the app is the one to say it.
MAX_URL_LENGTH = 4000
NO_ROUTE = "no report or page at this path; / lists every report"
# Headers of werkzeug's own error responses worth keeping: 405's Allow (RFC 9110).
_KEPT_HEADERS = ("Allow",)


def error_response(status: int, error: str, detail: str, *, html: bool | None = None) -> Response:
    """The error body every failure is answered with: JSON, or HTML for a ``.html`` report (or
    when ``html`` says so); the detail redacted of every secret this process knows."""
    detail = mask_known(detail)  # our own texts may say "?key=KEY"
    if html is None:
        html = has_request_context() and (request.view_args or {}).get("fmt") == "html"
    if html:
        page = render_error_html(status, error, detail, nonce=csp_nonce())
        response = Response(page, mimetype="text/html")
    else:
        response = jsonify({"error": error, "detail": detail, "status": status})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _report_error(exc: ReportError) -> Response:
    # A client's mistake (404, 400) is routine, not a warning: bots probe for paths all day.
    level = logging.WARNING if exc.status >= 500 else logging.INFO
    detail = mask_known(exc.detail)
    log.log(
        level,
        "%s %s -> %d: %s",
        request.method,
        printable(request.path),
        exc.status,
        printable(detail),
    )
    response = error_response(exc.status, exc.title, detail)
    if isinstance(exc, UpstreamRateLimited | Overloaded):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def _http_error(exc: HTTPException) -> Response:
    detail = exc.description or ""
    if isinstance(exc, NotFound) and request.routing_exception is exc:
        detail = NO_ROUTE
    response = error_response(exc.code or 500, (exc.name or "error").lower(), detail)
    for name, value in exc.get_headers():
        if name in _KEPT_HEADERS:
            response.headers[name] = value
    return response


def _unexpected(exc: Exception) -> Response:
    log.error("unexpected %s on %s", type(exc).__name__, printable(request.path), exc_info=exc)
    return error_response(500, "internal error", "the report could not be produced; see the log")


def _check_target() -> None:
    """Before routing's answer is used: a URL over ``MAX_URL_LENGTH`` is 414, and a path that
    starts with an empty segment (``//geral``) is 404 — waitress and werkzeug's routing strip
    leading slashes, so it would answer as ``/geral``, a page at a path we never publish."""
    environ = request.environ
    # The target as the client sent it: waitress's REQUEST_URI (gunicorn's RAW_URI).
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
    target = raw or request.full_path
    if len(target) > MAX_URL_LENGTH:
        raise RequestURITooLarge(
            f"the URL has {len(target)} characters; the limit is {MAX_URL_LENGTH}"
        )
    path = raw if raw.startswith("/") else urlsplit(raw).path  # or an absolute-form target
    if path.startswith("//") or environ.get("PATH_INFO", "").startswith("//"):
        raise NotFound(NO_ROUTE)


def init_app(app: Flask) -> None:
    """Register the handlers that turn exceptions into the error shape, and the URL checks."""
    app.before_request(_check_target)
    app.register_error_handler(ReportError, _report_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
