"""Access keys: with ``settings.access_keys`` set, every request but ``/healthz`` needs one.

A client presents a key as ``Authorization: Bearer KEY`` (programs) or ``?key=KEY`` (a person
opening a link). A missing or wrong key answers 401 JSON ``{"error", "detail", "status"}`` with
``WWW-Authenticate: Bearer``. Keys are compared in constant time against every configured key.

Browsers: a request that passed with ``?key=`` gets a cookie, so that the page's own links
(which carry no key) keep working. The cookie holds ``HMAC-SHA256(key, purpose)``, not the key:
it opens this server only, ends with the browser session, and stops working when the key is
removed from the configuration. It is ``HttpOnly`` (no script reads it), ``SameSite=Strict``
(another site cannot make the browser send it) and ``Path=/``; ``Secure`` behind HTTPS.

The key never reaches the views: ``?key=`` is taken out of the query string before Flask
parses it, so no link, error message or log line built from the request can repeat it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, jsonify, request

COOKIE = "stract_access"
OPEN_PATHS = frozenset({"/healthz"})
_KEY_IN_ENVIRON = "stract.access_key"
_COOKIE_PURPOSE = b"stract-reports browser access v1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_value(key: str) -> str:
    """The browser cookie derived from ``key`` (never the key itself)."""
    return hmac.new(key.encode(), _COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def _matches(presented: str, candidates: Iterable[str]) -> bool:
    # Every candidate is compared, whatever matched before: the time does not tell which.
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(presented.encode(), candidate.encode())
    return found


class _TakeKeyFromQuery:
    """WSGI middleware: moves ``key=`` out of ``QUERY_STRING`` into the environ."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = environ.get("QUERY_STRING", "")
        if "key=" in query:
            pairs = parse_qsl(query, keep_blank_values=True)
            keys = [value for name, value in pairs if name == "key"]
            if keys:
                environ[_KEY_IN_ENVIRON] = keys[-1]
                environ["QUERY_STRING"] = urlencode([(n, v) for n, v in pairs if n != "key"])
        return self.app(environ, start_response)


def _unauthorized(detail: str) -> Response:
    response = jsonify({"error": "unauthorized", "detail": detail, "status": 401})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="stract-reports"'
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Require a configured access key on every request of ``app`` but ``/healthz``."""
    keys: tuple[str, ...] = app.extensions["stract_settings"].access_keys
    if not keys:
        return
    cookies = tuple(cookie_value(key) for key in keys)
    app.wsgi_app = _TakeKeyFromQuery(app.wsgi_app)  # type: ignore[method-assign]

    def check() -> Response | None:
        if request.path in OPEN_PATHS:
            return None
        from_query = request.environ.get(_KEY_IN_ENVIRON)
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if from_query is not None:
            presented, candidates = from_query, keys
        elif scheme.lower() == "bearer" and credential.strip():
            presented, candidates = credential.strip(), keys
        elif request.cookies.get(COOKIE):
            presented, candidates = request.cookies[COOKIE], cookies
        else:
            return _unauthorized(
                "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY"
            )
        if not _matches(presented, candidates):
            return _unauthorized("the access key is not valid")
        return None

    def remember(response: Response) -> Response:
        presented = request.environ.get(_KEY_IN_ENVIRON)
        if presented is not None and response.status_code != 401:
            for key, cookie in zip(keys, cookies, strict=True):
                if hmac.compare_digest(presented.encode(), key.encode()):
                    response.set_cookie(
                        COOKIE,
                        cookie,
                        httponly=True,
                        samesite="Strict",
                        path="/",
                        secure=request.is_secure,
                    )
        return response

    app.before_request(check)
    app.after_request(remember)
