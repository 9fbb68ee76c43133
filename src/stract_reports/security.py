"""Response headers that limit what a browser does with our answers.

Every response: ``X-Content-Type-Options: nosniff``, so a CSV or JSON body is never run as
HTML or script; ``Referrer-Policy: no-referrer``, so a page opened with ``?key=`` never sends
its address (and the key in it) to another site. HTML responses: a Content-Security-Policy
that allows nothing but the page's own inline ``<style>`` and ``<script>``, identified by a
nonce drawn afresh for each response, and forms sent to this site only (the filter form).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

_NONCE_BYTES = 18  # 144 bits; 24 base64url characters, no padding


def csp_nonce() -> str:
    """This request's CSP nonce, drawn on first use; the page and its header share it."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(_NONCE_BYTES)
    return nonce


def content_security_policy(nonce: str) -> str:
    """The policy of our HTML pages: only nonce-carrying inline style and script, forms to this
    site, no framing."""
    return (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; "
        f"script-src 'nonce-{nonce}'; "
        "img-src 'self'; "
        "base-uri 'none'; "
        "form-action 'self'; "  # a report page's filter form: a GET to this site
        "frame-ancestors 'none'"
    )


def _secure_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app``, error responses included."""
    app.after_request(_secure_headers)
