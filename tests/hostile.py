"""A hostile upstream for the tests: the real Stract data, with answers a test rewrites at will.

The simulator's faults are the ordinary ones (429, 5xx, truncation, stalls); this server sends
what a broken or malicious API could: any raw bytes, any headers, bodies dripped a byte at a
time, gzip bombs, redirects. ``tamper(request)`` sees each call and returns a ``Reply`` to send
instead of the honest answer (or None to answer honestly): ``json_reply``, ``raw_reply``,
``drip``, ``gzip_bomb`` and ``endless`` build the usual ones; ``Reply.delay`` holds the status
line back. ``calls`` counts the calls by endpoint, ``log`` keeps each one, ``active`` counts
handlers still sending, ``dataset`` may be changed between reports. Loopback only; every sleep
ends when the server stops.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stract_reports.simulator import DEFAULT_TOKEN, Dataset, real_dataset
from stract_reports.simulator.server import (
    API_ENDPOINTS,
    QuietHandler,
    QuietHTTPServer,
    _respond,
)


@dataclass(frozen=True)
class Call:
    """One upstream call as the hostile server received it, with the honest answer to it."""

    endpoint: str
    query: dict[str, str]
    honest: dict[str, Any]  # the JSON body the real API would send
    number: int  # how many calls of this endpoint came before, plus one


@dataclass
class Reply:
    """What to send instead: status, headers and body (bytes, or chunks sent one by one)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0  # seconds before each chunk after the first
    content_length: int | None = None  # default: the length of a bytes body
    delay: float = 0.0  # seconds before the status line


def json_reply(document: Any, status: int = 200, **headers: str) -> Reply:
    """A JSON body as the real API would encode it."""
    body = json.dumps(document).encode()
    return Reply(status, body, {"Content-Type": "application/json", **headers})


def raw_reply(data: bytes, status: int = 200, **headers: str) -> Reply:
    """Exactly these bytes as a JSON body."""
    return Reply(status, data, {"Content-Type": "application/json", **headers})


def drip(data: bytes, every: float) -> Reply:
    """The right length announced, then one byte each ``every`` seconds."""
    chunks = [data[i : i + 1] for i in range(len(data))]
    return Reply(200, chunks, {"Content-Type": "application/json"}, every, len(data))


def gzip_bomb(inflated: int, prefix: bytes = b'{"accounts": ["', *, coding: str = "gzip") -> Reply:
    """A gzip (or ``deflate``) body that inflates to about ``inflated`` bytes (a JSON string
    that never ends). Compressed a megabyte at a time: the test process never holds it whole."""
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [compressor.compress(prefix)]
    block = b"a" * (1 << 20)
    for _ in range(inflated // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    data = b"".join(parts)
    return Reply(200, data, {"Content-Type": "application/json", "Content-Encoding": coding})


def endless(total: int, prefix: bytes = b'{"platforms": ["') -> Reply:
    """A body of ``total`` bytes sent a megabyte at a time (never held whole), no length
    announced: it ends when the connection closes."""
    block = b"a" * (1 << 20)

    def chunks() -> Iterator[bytes]:
        yield prefix
        for _ in range(total // len(block)):
            yield block

    return Reply(200, chunks(), {"Content-Type": "application/json"})


Tamper = Callable[[Call], Reply | None]


class HostileUpstream:
    """The real dataset behind a bearer check, with every answer open to ``tamper``."""

    def __init__(
        self, tamper: Tamper | None = None, *, dataset: Dataset | None = None, token: str = ""
    ) -> None:
        self.tamper = tamper
        self.dataset = dataset or real_dataset()
        self.token = token or DEFAULT_TOKEN
        self.calls: Counter[str] = Counter()
        # Every call as it arrived: (endpoint, sorted query, monotonic time).
        self.log: list[tuple[str, tuple[tuple[str, str], ...], float]] = []
        self.active = 0  # handlers still sending (a dripped body stops when the client leaves)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.upstream = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    @property
    def url(self) -> str:
        """The API root to configure as ``STRACT_API_URL``."""
        return f"http://127.0.0.1:{self._server.server_port}/api"

    def __enter__(self) -> HostileUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def total(self) -> int:
        """Calls received so far, all endpoints."""
        with self.lock:
            return sum(self.calls.values())


class _Handler(QuietHandler):
    server: Any

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        up: HostileUpstream = self.server.upstream
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) != 2 or parts[0] != "api" or parts[1] not in API_ENDPOINTS:
            return self._send(json_reply({"error": "not found"}, 404))
        endpoint = parts[1]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with up.lock:
            up.calls[endpoint] += 1
            number = up.calls[endpoint]
            up.log.append((endpoint, tuple(sorted(query.items())), time.monotonic()))
            up.active += 1
        try:
            auth = self.headers.get("Authorization", "")
            if auth not in (up.token, f"Bearer {up.token}"):
                return self._send(json_reply({"error": "invalid authorization token"}, 401))
            call = Call(endpoint, query, _respond(up.dataset, endpoint, query), number)
            reply = up.tamper(call) if up.tamper else None
            self._send(reply or json_reply(call.honest))
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client left: stop sending
        finally:
            with up.lock:
                up.active -= 1

    def _send(self, reply: Reply) -> None:
        up: HostileUpstream = self.server.upstream
        chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
        length = reply.content_length
        if length is None and isinstance(reply.body, bytes):
            length = len(reply.body)
        if reply.delay and up.stopping.wait(reply.delay):
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.close_connection = True  # the body ends when the connection does
        self.end_headers()
        for index, chunk in enumerate(chunks):
            if index and reply.chunk_delay and up.stopping.wait(reply.chunk_delay):
                self.close_connection = True
                return
            self.wfile.write(chunk)
            self.wfile.flush()
