"""Access keys: with ``settings.access_keys`` set, every request but ``/healthz`` and
``/robots.txt`` needs one.

A client presents a key as ``Authorization: Bearer KEY`` (programs) or ``?key=KEY`` (a person
opening a link). A missing or wrong key answers 401 ``{"error", "detail", "status"}`` with
``WWW-Authenticate: Bearer``: JSON for programs, an HTML page for a ``.html`` report or a
browser (Accept prefers HTML). Keys are compared in constant time against every configured key.

Guessing is throttled per client address (an IPv6 client by its /64 network): after
``key_failures`` wrong keys within ``key_failure_window`` seconds of its first, every request of
that client answers 429 with ``Retry-After`` until the window has passed, a right key included
(else the throttle would tell a right guess from a wrong one). One log line says when a client
is throttled, never with the key. At most ``key_failure_clients`` addresses are counted: the
oldest are forgotten first. The address is the connection's, or the trusted proxy's
``X-Forwarded-For`` with ``STRACT_TRUST_PROXY`` (see ``create_app``).

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
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, request

from .error_pages import error_response
from .extensions import app_settings
from .formats import prefers_html
from .redaction import printable

# Not the access log ("stract_reports.access", serving.py): one line per throttling.
log = logging.getLogger(f"{__name__}.throttle")

COOKIE = "stract_access"
OPEN_PATHS = frozenset({"/healthz", "/robots.txt"})
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


def client_of(address: str | None) -> str:
    """Whom wrong keys are counted against: an IPv4 address, or an IPv6 address's /64 network
    (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Throttle:
    """Wrong keys per client: ``limit`` within ``window`` seconds of the client's first, then
    the client waits for the window's end. Remembers at most ``clients`` clients."""

    def __init__(
        self,
        limit: int,
        window: float,
        clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clients = clients
        self._clock = clock
        self._lock = threading.Lock()
        # client -> [start of its window, wrong keys in it]; oldest window first.
        self._windows: dict[str, list[float]] = {}

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before it may present a key again (0: it may now)."""
        with self._lock:
            entry = self._windows.get(client)
            if entry is None:
                return 0.0
            left = entry[0] + self.window - self._clock()
            if left <= 0:
                del self._windows[client]
                return 0.0
            return left if entry[1] >= self.limit else 0.0

    def failed(self, client: str) -> bool:
        """Count a wrong key of ``client``; True when it is the one that throttles it."""
        with self._lock:
            now = self._clock()
            entry = self._windows.get(client)
            if entry is None or entry[0] + self.window <= now:
                self._windows.pop(client, None)
                self._forget(now)
                entry = self._windows[client] = [now, 0]
            entry[1] += 1
            return entry[1] == self.limit

    def __len__(self) -> int:
        with self._lock:
            return len(self._windows)

    def _forget(self, now: float) -> None:
        """Drop the windows that have passed, then the oldest while there are too many: the
        windows are in the order they began, so both come first (amortised O(1))."""
        windows = self._windows
        while windows:
            oldest = next(iter(windows))
            if windows[oldest][0] + self.window > now and len(windows) < self.clients:
                break
            del windows[oldest]


def _refused(status: int, error: str, detail: str) -> Response:
    """The error shape, as an HTML page for a ``.html`` report or a browser, else JSON."""
    html = (request.view_args or {}).get("fmt") == "html" or prefers_html(
        request.accept_mimetypes.quality
    )
    return error_response(status, error, detail, html=html)


def _unauthorized(detail: str) -> Response:
    response = _refused(401, "unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="stract-reports"'
    return response


def _throttled(wait: float, throttle: Throttle) -> Response:
    seconds = max(1, math.ceil(wait))
    response = _refused(
        429,
        "too many wrong access keys",
        f"this address presented {throttle.limit} wrong access keys within "
        f"{throttle.window:g}s; try again in {seconds}s",
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def init_app(app: Flask) -> None:
    """Require a configured access key on every request of ``app`` but ``OPEN_PATHS``."""
    settings = app_settings(app)
    keys: tuple[str, ...] = settings.access_keys
    if not keys:
        return
    cookies = tuple(cookie_value(key) for key in keys)
    throttle = Throttle(
        settings.key_failures, settings.key_failure_window, settings.key_failure_clients
    )
    app.wsgi_app = _TakeKeyFromQuery(app.wsgi_app)  # type: ignore[method-assign]

    def check() -> Response | None:
        if request.path in OPEN_PATHS:
            return None
        client = client_of(request.remote_addr)
        wait = throttle.wait(client)
        if wait:
            return _throttled(wait, throttle)
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
            if throttle.failed(client):
                log.warning(
                    "%s presented %d wrong access keys within %gs: refused until %gs after "
                    "the first",
                    printable(client),
                    throttle.limit,
                    throttle.window,
                    throttle.window,
                )
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
