"""Who may read what: owner keys, scoped keys from the store, saved views, and the wrong-key
throttle.

Owner keys (``settings.access_keys``) see everything, as they always have. Scoped keys live in
the store (its SHA-256 only) and carry a ``Scope``: a request made with one sees only what the
scope allows (``reports.scoping``). Anonymous requests are allowed exactly when no owner key is
configured: a scoped key narrows what its holder sees, it never opens a closed server. A
presented key is checked against the owner keys, then the store; a wrong one is 401, never a
fall back to anonymous; a store that cannot be read then is a 503, never a way in. With
neither owner keys nor a store (``STRACT_STORE_URL=off``) nothing is checked. ``OPEN_PATHS``
(``/healthz``, ``/robots.txt``) need no key.

A client presents a key as ``Authorization: Bearer KEY`` (programs) or ``?key=KEY`` (a person
opening a link, a spreadsheet). A missing or wrong key answers 401 ``{"error", "detail",
"status"}`` with ``WWW-Authenticate: Bearer``: JSON for programs, an HTML page for a ``.html``
report or a browser (Accept prefers HTML). Owner keys are compared in constant time against
every configured key; a stored key is found by its hash.

A saved view (``/v/<id>``) needs no key: its id is the credential, and the view carries its
key's scope. An unknown id answers what an unknown path answers (404), and so does the id of a
view whose key is revoked or expired.

What this process read of the store is kept at most ``STORE_READ_TTL`` seconds (``StoredAccess``),
so that revoking a key or a view reaches every process within a second, without a database
read per request. Expiry is checked on every request.

Guessing is throttled per client address (an IPv6 client by its /64 network): after
``key_failures`` wrong keys or view ids within ``key_failure_window`` seconds of its first,
every request of that client answers 429 with ``Retry-After`` until the window has passed, a
right key included (else the throttle would tell a right guess from a wrong one). One log line
says when a client is throttled, never with the key. At most ``key_failure_clients`` addresses
are counted: the oldest are forgotten first. The address is the connection's, or the trusted
proxy's ``X-Forwarded-For`` with ``STRACT_TRUST_PROXY`` (see ``create_app``).

Browsers: a request that passed with ``?key=`` gets a cookie, so that the page's own links
(which carry no key) keep working. The cookie holds ``HMAC-SHA256(key, purpose)``
(``store.keys.cookie_value``), not the key: it opens this server only, ends with the browser
session, and stops working when the key is removed from the configuration or revoked. It is
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (another site cannot make the browser
send it) and ``Path=/``; ``Secure`` behind HTTPS.

The key never reaches the views: ``?key=`` is taken out of the query string before Flask
parses it, so no link, error message or log line built from the request can repeat it.

Every report read by a key (an owner's, with no name) or a view goes to the audit trail, names
only; a stored key's last use and count are written at most once a minute (``Recorder``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, g, request

from .error_pages import NO_ROUTE, error_response
from .extensions import app_settings, app_store
from .formats import DEFAULT_FORMAT, prefers_html
from .redaction import printable, register
from .reports.spec import GENERAL, ReportSpec
from .scope import Scope
from .store import AuditEntry, KeyRecord, Store, ViewRecord
from .store.keys import cookie_value, secret_hash
from .store.times import now_utc

# Not the access log ("stract_reports.access", http_server.py): one line per throttling.
log = logging.getLogger(f"{__name__}.throttle")

COOKIE = "stract_access"
OPEN_PATHS = frozenset({"/healthz", "/robots.txt"})
_KEY_IN_ENVIRON = "stract.access_key"
# Seconds a key or view read from the store is trusted before it is read again: a revocation
# reaches every process within this (and a request's own time).
STORE_READ_TTL = 0.5
# Stored keys and views remembered at once per process; the oldest are read again first.
STORE_READ_ENTRIES = 4096
# The endpoints whose reads go to the audit trail (views.py names them).
AUDITED = frozenset({"report", "summary", "view"})
VIEW_ENDPOINT = "view"


@dataclass(frozen=True)
class Access:
    """Who is reading: ``scope`` (None: everything), the stored ``key`` (a scoped key's, or
    the key a ``view`` was made with), and whether an ``owner`` key was presented."""

    scope: Scope | None = None
    key: KeyRecord | None = None
    view: ViewRecord | None = None
    owner: bool = False

    @property
    def audited(self) -> bool:
        """Whether the reads go to the audit trail: a key's or a view's, not anonymous ones."""
        return self.owner or self.key is not None


ANONYMOUS = Access()
OWNER = Access(owner=True)


def current_access() -> Access:
    """In a request: who is reading (``ANONYMOUS`` where no key is checked at all)."""
    access: Access = g.get("stract_access", ANONYMOUS)
    return access


class StoredAccess:
    """Keys and views as this process last read them from the store, each for at most ``ttl``
    seconds, by the hash of what was presented (never the key itself). Expiry is checked at
    each use, revocation is seen within ``ttl``."""

    def __init__(
        self,
        store: Callable[[], Store],
        ttl: float = STORE_READ_TTL,
        entries: int = STORE_READ_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.entries = entries
        self._clock = clock
        self._lock = threading.Lock()
        self._read: OrderedDict[tuple[str, bytes], tuple[float, Any]] = OrderedDict()

    def key(self, presented: str, now: datetime) -> KeyRecord | None:
        """The active stored key ``presented`` is, or None."""
        record = self._lookup("key", presented, lambda: self.store().keys.verify(presented, now))
        return record if record is not None and record.active(now) else None

    def cookie(self, presented: str, now: datetime) -> KeyRecord | None:
        """The active stored key whose browser cookie ``presented`` is, or None."""
        record = self._lookup(
            "cookie", presented, lambda: self.store().keys.verify_cookie(presented, now)
        )
        return record if record is not None and record.active(now) else None

    def view(self, view_id: str, now: datetime) -> ViewRecord | None:
        """The view ``view_id`` names while it and its key are in force, or None."""
        view = self._lookup("view", view_id, lambda: self.store().views.get(view_id, now))
        if view is None or view.revoked is not None or not view.key.active(now):
            return None
        return view

    def _lookup(self, kind: str, presented: str, read: Callable[[], Any]) -> Any:
        entry = (kind, secret_hash(presented))
        now = self._clock()
        with self._lock:
            found = self._read.get(entry)
            if found is not None and now - found[0] < self.ttl:
                return found[1]
        record = read()  # the store's own errors (down: 503) fail the request closed
        with self._lock:
            self._read[entry] = (now, record)
            self._read.move_to_end(entry)
            while len(self._read) > self.entries:
                self._read.popitem(last=False)
        return record


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    """Check who reads on every request of ``app`` but ``OPEN_PATHS``: owner keys, scoped keys
    and views of the store (see the module). Nothing is checked without either."""
    settings = app_settings(app)
    keys: tuple[str, ...] = settings.access_keys
    link = app_store(app)
    if not keys and link.off:
        return
    cookies = tuple(cookie_value(key) for key in keys)
    # The store as it is at each lookup: not open yet (or off) is an error that fails closed.
    stored = None if link.off else StoredAccess(link.require)
    throttle = Throttle(
        settings.key_failures, settings.key_failure_window, settings.key_failure_clients
    )
    app.wsgi_app = _TakeKeyFromQuery(app.wsgi_app)  # type: ignore[method-assign]

    def failed(client: str) -> None:
        if throttle.failed(client):
            log.warning(
                "%s presented %d wrong access keys within %gs: refused until %gs after the first",
                printable(client),
                throttle.limit,
                throttle.window,
                throttle.window,
            )

    def check() -> Response | None:
        if request.path in OPEN_PATHS:
            return None
        client = client_of(request.remote_addr)
        wait = throttle.wait(client)
        if wait:
            return _throttled(wait, throttle)
        now = now_utc()
        if request.endpoint == VIEW_ENDPOINT:
            view_id = str((request.view_args or {}).get("view_id", ""))
            view = None if stored is None else stored.view(view_id, now)
            if view is None:
                failed(client)
                return _refused(404, "not found", NO_ROUTE)
            g.stract_access = Access(view.key.scope, view.key, view)
            return None
        from_query = request.environ.get(_KEY_IN_ENVIRON)
        authorization = request.headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        cookie = False
        if from_query is not None:
            presented = from_query
        elif scheme.lower() == "bearer" and credential.strip():
            presented = credential.strip()
        elif request.cookies.get(COOKIE):
            presented, cookie = request.cookies[COOKIE], True
        elif keys:
            return _unauthorized(
                "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY"
            )
        else:
            return None  # no owner key configured: anonymous requests are allowed
        if _matches(presented, cookies if cookie else keys):
            g.stract_access = OWNER
            return None
        record = None
        if stored is not None:
            record = stored.cookie(presented, now) if cookie else stored.key(presented, now)
        if record is None:
            failed(client)
            return _unauthorized("the access key is not valid")
        if not cookie:  # from now on no message of this process may show it
            register([presented])
        g.stract_access = Access(record.scope, record)
        return None

    def remember(response: Response) -> Response:
        presented = request.environ.get(_KEY_IN_ENVIRON)
        access = current_access()
        if presented is not None and access.view is None and (access.owner or access.key):
            response.set_cookie(
                COOKIE,
                cookie_value(presented),
                httponly=True,
                samesite="Strict",
                path="/",
                secure=request.is_secure,
            )
        recorder = link.recorder
        if recorder is not None:
            now = now_utc()
            if access.key is not None:
                recorder.touch(access.key.id, now)
            if access.audited and request.endpoint in AUDITED:
                report, fmt = _read_report(access)
                view = None if access.view is None else access.view.name
                key = None if access.key is None else access.key.name
                recorder.audit(AuditEntry(now, key, view, report, fmt, response.status_code))
        return response

    app.before_request(check)
    app.after_request(remember)


def _read_report(access: Access) -> tuple[str, str]:
    """The report and format this request read, as its route names them."""
    args = request.view_args or {}
    fmt = str(args.get("fmt") or "")
    if access.view is not None:
        return access.view.report, fmt or access.view.format
    platform = str(args.get("platform", GENERAL))
    spec = ReportSpec(None if platform == GENERAL else platform, bool(args.get("summary")))
    return spec.name, fmt or DEFAULT_FORMAT
