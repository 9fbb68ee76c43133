"""One error shape for every failure: ``{"error", "detail", "status"}``, never a token.

A failed ``.html`` report answers the same three values as an HTML page; everything else JSON.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import Overloaded, ReportError, UpstreamRateLimited
from .render import split_format
from .render.html import render_error_html
from .security import csp_nonce

log = logging.getLogger(__name__)


def error_response(status: int, error: str, detail: str) -> Response:
    """The error body every failure is answered with: JSON, or HTML for a ``.html`` report."""
    if has_request_context() and split_format(request.path)[1] == "html":
        page = render_error_html(status, error, detail, nonce=csp_nonce())
        response = Response(page, mimetype="text/html")
    else:
        response = jsonify({"error": error, "detail": detail, "status": status})
    response.status_code = status
    return response


def _report_error(exc: ReportError) -> Response:
    log.warning("%s %s -> %d: %s", request.method, request.path, exc.status, exc.detail)
    response = error_response(exc.status, exc.title, exc.detail)
    if isinstance(exc, UpstreamRateLimited | Overloaded):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def _http_error(exc: HTTPException) -> Response:
    return error_response(exc.code or 500, (exc.name or "error").lower(), exc.description or "")


def _unexpected(exc: Exception) -> Response:
    log.error("unexpected %s on %s", type(exc).__name__, request.path, exc_info=exc)
    return error_response(500, "internal error", "the report could not be produced; see the log")


def init_app(app: Flask) -> None:
    """Register the handlers that turn exceptions into the error shape."""
    app.register_error_handler(ReportError, _report_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
