"""The simulated Stract API over HTTP: a threaded server with latency, faults and counters.

Endpoints under ``/api`` behave as ``stract-api.md`` describes: JSON bodies shaped like the real
ones, 1-based ``page`` with ``{"current": N, "total": PAGES}``, errors as HTTP 200
``{"error": "invalid request"}``, a refused bearer token as 401. ``/_sim/stats`` reports
counters; ``POST /_sim/reset`` clears them.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import random
import socket
import socketserver
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from .dataset import Dataset, SimPlatform, challenge_text, real_dataset
from .faults import FaultRule
from .growth import Growth

DEFAULT_TOKEN = "ProcessoSeletivoStract2025"
INVALID = {"error": "invalid request"}
API_ENDPOINTS = ("platforms", "accounts", "fields", "insights")
# Where to reach a server bound to every address.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class Simulator:
    """A Stract API look-alike on a loopback port, started in a background thread."""

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        latency: float = 0.0,
        jitter: float = 0.0,
        faults: list[FaultRule] | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        growth: Growth | None = None,
    ) -> None:
        self.dataset = dataset or real_dataset()
        # Lifetime metrics grow with time when given (the demo), so history shows changes.
        self.growth = growth
        self.token = token
        self.latency = latency
        self.jitter = jitter
        self.faults = list(faults or [])
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._calls_by_target: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._last_answered: float | None = None
        self._faults_fired: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._host = host
        self._server = _Server((host, port), _Handler)
        self._server.simulator = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The API root, as the report server's ``STRACT_API_URL`` wants it."""
        return f"http://{self._host}:{self.port}/api"

    @property
    def port(self) -> int:
        """The port the simulator listens on."""
        return self._server.server_port

    def start(self) -> Simulator:
        """Serve in a daemon thread and return at once."""
        self._thread = threading.Thread(target=self.serve_forever, name="simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop``."""
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving, and wake calls that sleep for latency or a slow fault."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset: calls by endpoint, faults fired, peak concurrency."""
        with self._lock:
            return {
                "requests": {name: self._requests[name] for name in API_ENDPOINTS},
                "total": sum(self._requests[name] for name in API_ENDPOINTS),
                "faults": dict(self._faults_fired),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                # When the last API answer was written whole (time.monotonic(), a clock every
                # process of this machine shares), None before any: the time of the last
                # upstream byte, for a report's time to first byte.
                "last_answered": self._last_answered,
            }

    def reset(self) -> None:
        """Clear every counter, including the per-URL call counts that ``first=N`` faults use."""
        with self._lock:
            self._calls_by_target.clear()
            self._requests.clear()
            self._faults_fired.clear()
            self._max_in_flight = self._in_flight
            self._last_answered = None

    # -- called by the handler -------------------------------------------------------------

    def _enter(self, endpoint: str, target: str) -> FaultRule | None:
        with self._lock:
            self._requests[endpoint] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._calls_by_target[target] += 1
            call_number = self._calls_by_target[target]
            fault = next((r for r in self.faults if r.fires(target, call_number, self.seed)), None)
            if fault is not None:
                self._faults_fired[fault.kind] += 1
            delay = self.latency
            if self.jitter:
                delay = max(0.0, delay + self._rng.uniform(-self.jitter, self.jitter))
        if delay:
            self._stopping.wait(delay)
        return fault

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last_answered = time.monotonic()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded server that does not print a traceback when a client hangs up."""

    daemon_threads = True
    # A report speculating opens ~30 connections at once: socketserver's backlog of 5 would
    # drop some, and their retried SYN arrives a second later.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (its own timeout, e.g. against a `slow` fault) is routine here:
        # no traceback on stderr, which may even be closed by then (a test's captured stream).
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def shutdown(self) -> None:
        """Stop ``serve_forever`` now (``shutdown_now``)."""
        shutdown_now(self)


def shutdown_now(server: socketserver.TCPServer) -> None:
    """Stop a server's ``serve_forever`` now. Its loop sees the request only when its ``select``
    wakes, at the next poll: connections wake it at once (a test suite stops hundreds)."""
    stopper = threading.Thread(target=socketserver.BaseServer.shutdown, args=(server,))
    stopper.start()
    host, port = cast(tuple[str, int], server.server_address[:2])
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((_LOOPBACK.get(host, host), port), timeout=1).close()
        stopper.join(0.005)


class _Server(QuietHTTPServer):
    simulator: Simulator


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, no Nagle delay, and no request lines in the log."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body of every reply on a
    # kept-alive connection waits for the client's delayed ACK (~40 ms on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry account tokens."""


class _Handler(QuietHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        sim = self.server.simulator
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["_sim", "stats"]:
            return self._send_json(200, sim.stats())
        if parts == ["api"]:
            return self._send(200, challenge_text().encode(), "text/plain; charset=utf-8")
        if len(parts) != 2 or parts[0] != "api" or parts[1] not in API_ENDPOINTS:
            return self._send_json(404, {"error": "not found"})
        endpoint = parts[1]
        fault = sim._enter(endpoint, self.path)
        try:
            self._answer(sim, endpoint, parse_qs(url.query), fault)
        finally:
            sim._leave()

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/_sim/reset":
            self.server.simulator.reset()
            return self._send_json(200, {"reset": True})
        self._send_json(404, {"error": "not found"})

    def _answer(
        self, sim: Simulator, endpoint: str, query: dict[str, list[str]], fault: FaultRule | None
    ) -> None:
        kind = fault.kind if fault else None
        delay = fault.delay if fault else 0.0
        if kind in ("429", "500", "502", "503"):
            retry_after = fault.retry_after if fault else 0.0
            headers = {"Retry-After": _seconds(retry_after)} if kind == "429" else {}
            return self._send_json(int(kind), {"error": f"simulated {kind}"}, headers)
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "malformed":
            return self._send(200, b"<html><body>upstream hiccup</body></html>", "application/json")
        if kind == "error":
            return self._send_json(200, INVALID)
        if kind == "slow":
            sim._sleep(delay)

        if kind == "401" or not _authorized(self.headers.get("Authorization"), sim.token):
            return self._send_json(401, {"error": "invalid authorization token"})
        body = _respond(sim.dataset, endpoint, {k: v[-1] for k, v in query.items()}, sim.growth)
        if kind in _TOTALS and "pagination" in body:
            if kind == "no-total":
                del body["pagination"]["total"]
            else:
                body["pagination"]["total"] = _TOTALS[kind]
        if kind in _HOSTILE:
            return _HOSTILE[kind](self, sim, body, delay)
        if kind in ("truncate", "stall"):
            data = _encode(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if kind == "truncate":
                self.close_connection = True
                return
            sim._sleep(delay)
            self.wfile.write(data[len(data) // 2 :])
            return
        self._send_json(200, body)

    def _huge_body(self, sim: Simulator, body: Any, delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.close_connection = True  # the body ends when the connection does
        self.wfile.write(b'{"' + next(iter(body)).encode() + b'": ["')
        block = b"a" * _MIB
        for _ in range(1024):
            if sim._stopping.is_set():
                return
            self.wfile.write(block)

    def _gzip_bomb(self, sim: Simulator, body: Any, delay: float) -> None:
        headers = {"Content-Encoding": "gzip"}
        self._send(200, _bomb(next(iter(body))), "application/json", headers)

    def _drip(self, sim: Simulator, body: Any, delay: float) -> None:
        data = _encode(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for index in range(len(data)):
            if index and sim._stopping.wait(delay):
                self.close_connection = True
                return
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()

    def _redirect(self, sim: Simulator, body: Any, delay: float) -> None:
        # Port 9 (discard) on another loopback address: nothing should ever go there.
        elsewhere = f"http://127.0.0.2:9{self.path}"
        self._send(302, b"", "application/json", {"Location": elsewhere})

    def _deep(self, sim: Simulator, body: Any, delay: float) -> None:
        depth = 100_000
        data = b'{"' + next(iter(body)).encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"
        self._send(200, data, "application/json")

    def _dup_keys(self, sim: Simulator, body: Any, delay: float) -> None:
        key = next(iter(body))
        data = _encode(body)[:-1] + b", " + json.dumps(key).encode() + b": []}"
        self._send(200, data, "application/json")

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _encode(body), "application/json", headers)

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


_MIB = 1 << 20
# The pagination faults: the total each one sends (no-total removes it).
_TOTALS: dict[str, Any] = {
    "no-total": None,
    "zero-total": 0,
    "text-total": "many",
    "huge-total": 10**9,
}
_HOSTILE = {
    "huge-body": _Handler._huge_body,
    "gzip-bomb": _Handler._gzip_bomb,
    "drip": _Handler._drip,
    "redirect": _Handler._redirect,
    "deep": _Handler._deep,
    "dup-keys": _Handler._dup_keys,
}


@functools.cache
def _bomb(key: str) -> bytes:
    """A gzip body inflating to 1 GiB: ``{"KEY": ["aaaa...`` that never closes.

    Made of 1,024 gzip members (RFC 1952 allows several), all the same megabyte: cheap to
    build, as cheap to send, and every gzip reader must inflate all of them.
    """
    member = gzip.compress(b"a" * _MIB, compresslevel=9, mtime=0)
    return gzip.compress(b'{"' + key.encode() + b'": ["', mtime=0) + member * 1024


def _encode(body: Any) -> bytes:
    # Decimal test values go out as JSON numbers; float's shortest repr keeps their digits.
    return json.dumps(body, default=float).encode()


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _authorized(header: str | None, token: str) -> bool:
    # The real API accepted the bare token as well as "Bearer <token>".
    if not header:
        return False
    scheme, _, credentials = header.partition(" ")
    return header == token or (scheme.lower() == "bearer" and credentials.strip() == token)


def _respond(
    dataset: Dataset, endpoint: str, query: dict[str, str], growth: Growth | None = None
) -> dict[str, Any]:
    """The JSON body for one API call; errors are bodies too, as upstream sends them."""
    if endpoint == "platforms":
        return {"platforms": [{"text": p.text, "value": p.value} for p in dataset.platforms]}
    platform = dataset.platform(query.get("platform", ""))
    page = _page_number(query.get("page"))
    if platform is None or page is None:
        return INVALID
    if endpoint == "accounts":
        accounts = [{"id": a.id, "name": a.name, "token": a.token} for a in platform.accounts]
        return _paged("accounts", accounts, platform.accounts_page_size, page)
    if endpoint == "fields":
        return _paged("fields", list(platform.fields), platform.fields_page_size, page)
    return _insights(platform, query, page, growth)


def _insights(
    platform: SimPlatform, query: dict[str, str], page: int, growth: Growth | None
) -> dict[str, Any]:
    account = next((a for a in platform.accounts if a.id == query.get("account")), None)
    wanted = [f for f in query.get("fields", "").split(",") if f]
    if account is None or query.get("token") != account.token or not wanted:
        return INVALID
    keys = sorted({*wanted, "id"})
    source = platform.insight_rows(account)
    if growth is not None:
        source = [growth.grow(platform.value, account.id, row) for row in source]
    rows = [{k: row[k] for k in keys if k in row} for row in source]
    return _paged("insights", rows, platform.insights_page_size, page)


def _page_number(raw: str | None) -> int | None:
    if raw is None:
        return 1
    try:
        page = int(raw)
    except ValueError:
        return None
    return page if page >= 1 else None


def _paged(key: str, items: list[Any], size: int | None, page: int) -> dict[str, Any]:
    if size is None:
        # Unpaginated resources tolerate ?page=1; later pages are empty, like pages past the end.
        return {key: items if page == 1 else []}
    total = max(1, -(-len(items) // size))
    return {
        key: items[(page - 1) * size : page * size],
        "pagination": {"current": page, "total": total},
    }
