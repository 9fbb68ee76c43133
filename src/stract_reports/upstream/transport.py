"""One HTTP exchange with the upstream, bounded in time and bytes, never following a redirect.

The lowest layer of the client (httpx calls it a transport): pooled keep-alive connections
from ``http.client``, a body streamed and inflated under a byte cap, and a whole-response time
limit. The limit is kept by one watchdog thread with a heap of deadlines: when an exchange
outlives its deadline, the watchdog shuts its socket down, which wakes the blocked read at once
(a per-read socket timeout alone lets a body dripped a byte at a time run for ever). The same
cut abandons an exchange that nobody waits for any more, or every exchange when the client
closes.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from contextlib import suppress
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

# A read asks the socket for at most this much at once.
_CHUNK = 64 * 1024
# Inflating produces at most this much at once.
_INFLATE_SLICE = 1024 * 1024
# Content codings we ask for and can inflate under the byte cap (wbits for zlib).
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class ExchangeError(Exception):
    """An exchange failed below HTTP semantics; ``reason`` says how, in a few words."""

    reason = "exchange failed"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.reason)
        if reason:
            self.reason = reason


class ConnectFailed(ExchangeError):
    reason = "connection failed"


class Dropped(ExchangeError):
    reason = "connection dropped"


class TimedOut(ExchangeError):
    """The whole response did not arrive within ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"no answer within {limit:g}s")
        self.limit = limit


class Abandoned(ExchangeError):
    reason = "abandoned: nobody waits for this read any more"


class CutShort(ExchangeError):
    reason = "response body cut short"


class TooLarge(ExchangeError):
    """The body, inflated, would pass ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body larger than {limit} bytes (STRACT_MAX_BODY_BYTES)")
        self.limit = limit


class BadEncoding(ExchangeError):
    reason = "response body has a content encoding that cannot be decoded"


@dataclass
class Response:
    """A complete response: status, headers and the body, inflated."""

    status: int
    headers: Message
    body: bytearray


class Exchange:
    """One request in flight. Another thread may ``cut`` it: its socket is shut down at once."""

    __slots__ = ("_lock", "_sock", "cut_because", "finished")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.cut_because: str | None = None  # "timeout" or "abandoned", once cut
        self.finished = False

    def attach(self, sock: socket.socket) -> None:
        """The socket this exchange reads from (shut down at once if already cut)."""
        with self._lock:
            self._sock = sock
            if self.cut_because is not None:
                _shutdown(sock)

    def cut(self, because: str) -> None:
        """Stop the exchange: its blocked read, if any, ends now."""
        with self._lock:
            if self.cut_because is not None or self.finished:
                return
            self.cut_because = because
            if self._sock is not None:
                _shutdown(self._sock)

    def finish(self) -> None:
        """The exchange ended on its own: the watchdog has nothing more to do with it."""
        with self._lock:
            self.finished = True


def _shutdown(sock: socket.socket) -> None:
    # The plain socket's shutdown even for TLS: it wakes a reader without touching the TLS
    # object another thread is using.
    with suppress(OSError):  # already closed or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One thread that cuts each watched exchange when its deadline passes."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Exchange]] = []
        self._order = itertools.count()  # ties never compare exchanges
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="upstream-watchdog", daemon=True)
        self._thread.start()

    def watch(self, exchange: Exchange, deadline: float) -> None:
        """Cut ``exchange`` at ``deadline`` (monotonic) unless it has finished by then."""
        with self._wake:
            entry = (deadline, next(self._order), exchange)
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._wake.notify()

    def close(self) -> None:
        """Stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].cut("timeout")
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


class Transport:
    """GET requests to one API root over pooled connections, each bounded in time and bytes."""

    def __init__(self, api_url: str, *, connect_timeout: float, max_body_bytes: int, pool: int):
        url = urlsplit(api_url)
        self.scheme = url.scheme
        self.host = url.hostname or ""
        self.port = url.port
        self.base_path = url.path.rstrip("/")
        self.where = f"{url.scheme}://{url.netloc.rpartition('@')[2]}{self.base_path}"
        self.connect_timeout = connect_timeout
        self.max_body_bytes = max_body_bytes
        self._pool_size = pool
        self._idle: list[http.client.HTTPConnection] = []
        self._live: set[Exchange] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._context = _tls_context() if self.scheme == "https" else None
        self._proxy = _proxy_for(self.scheme, self.host)
        self.watchdog = Watchdog()

    def close(self) -> None:
        """Cut every exchange in flight, close idle connections, stop the watchdog."""
        with self._lock:
            self._closed = True
            live, self._live = list(self._live), set()
            idle, self._idle = self._idle, []
        for exchange in live:
            exchange.cut("abandoned")
        for conn in idle:
            conn.close()
        self.watchdog.close()

    def get(
        self, target: str, headers: dict[str, str], *, timeout: float, exchange: Exchange
    ) -> Response:
        """``GET base_path + target``: the complete response within ``timeout`` seconds.

        Raises an ``ExchangeError``; a 3xx is returned like any status, never followed.
        """
        with self._lock:
            if self._closed:
                raise Abandoned("the client is closed")
            self._live.add(exchange)
        self.watchdog.watch(exchange, time.monotonic() + timeout)
        conn = self._checkout(min(self.connect_timeout, timeout))
        reusable = False
        response: http.client.HTTPResponse | None = None
        try:
            response = self._exchange(conn, target, headers, timeout, exchange)
            body = self._read_body(response, exchange, timeout)
            reusable = not response.will_close
            return Response(response.status, response.msg, body)
        except ExchangeError:
            raise
        except TimeoutError:
            raise self._cut_or(exchange, TimedOut(timeout), timeout) from None
        except (http.client.IncompleteRead, http.client.RemoteDisconnected) as exc:
            started = isinstance(exc, http.client.IncompleteRead)
            raise self._cut_or(exchange, CutShort() if started else Dropped(), timeout) from None
        except (OSError, http.client.HTTPException):
            raise self._cut_or(exchange, Dropped(), timeout) from None
        finally:
            if response is not None:
                # Complete: the socket stays with the connection, ready for the next call.
                # Otherwise (or when it will close) this releases the socket the response holds.
                response.close()
            exchange.finish()
            with self._lock:
                self._live.discard(exchange)
                if reusable and exchange.cut_because is None and not self._closed:
                    self._idle.append(conn)
                    conn = None  # type: ignore[assignment]
                idle = len(self._idle)
            if conn is not None:
                conn.close()
            if idle > self._pool_size:
                self._trim()

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        target: str,
        headers: dict[str, str],
        timeout: float,
        exchange: Exchange,
    ) -> http.client.HTTPResponse:
        if conn.sock is None:
            try:
                conn.connect()
            except TimeoutError:
                raise TimedOut(conn.timeout or timeout) from None
            except OSError:
                raise ConnectFailed() from None
        assert conn.sock is not None
        conn.sock.settimeout(timeout)  # a backstop; the watchdog bounds the whole response
        exchange.attach(conn.sock)
        path = self.base_path + target
        if self._proxy and self.scheme == "http":
            path = f"http://{self.host}{f':{self.port}' if self.port else ''}{path}"
        conn.request("GET", path, headers=headers)
        return conn.getresponse()

    def _read_body(
        self, response: http.client.HTTPResponse, exchange: Exchange, timeout: float
    ) -> bytearray:
        """The body, inflated, refused past the byte cap before it is held whole."""
        limit = self.max_body_bytes
        coding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        inflater = None
        if coding in _CODINGS:
            inflater = _Inflater(coding)
        elif coding not in ("identity", ""):
            raise BadEncoding("response body has an unsupported content encoding")
        body = bytearray()
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            if inflater is not None:
                inflater.feed_into(body, chunk, limit)
            elif len(body) + len(chunk) > limit:
                raise TooLarge(limit)
            else:
                body += chunk
        if exchange.cut_because is not None:
            raise self._cut_or(exchange, CutShort(), timeout)
        if response.length:  # the connection closed before the announced length
            raise CutShort()
        if inflater is not None and not inflater.complete:
            raise CutShort()
        return body

    @staticmethod
    def _cut_or(exchange: Exchange, error: ExchangeError, timeout: float) -> ExchangeError:
        """The error to report: the cut's, when the watchdog or a caller cut the exchange."""
        if exchange.cut_because == "timeout":
            return TimedOut(timeout)
        if exchange.cut_because == "abandoned":
            return Abandoned()
        return error

    def _checkout(self, connect_timeout: float) -> http.client.HTTPConnection:
        """An idle connection the server has not closed, or a new one (not yet connected)."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            conn.close()  # the server closed it (or sent something unasked) while idle
        host, port = self.host, self.port
        if self._proxy:
            host, port = self._proxy
        if self.scheme == "https":
            tls = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._context
            )
            if self._proxy:
                tls.set_tunnel(self.host, self.port)
            return tls
        return http.client.HTTPConnection(host, port, timeout=connect_timeout)

    def _trim(self) -> None:
        with self._lock:
            extra = self._idle[: -self._pool_size]
            del self._idle[: -self._pool_size]
        for conn in extra:
            conn.close()


class _Inflater:
    """Inflates a gzip or deflate body piece by piece, never past the room it is given."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._inflate = zlib.decompressobj(_CODINGS[coding])

    @property
    def complete(self) -> bool:
        """Whether the compressed stream ended properly."""
        return self._inflate.eof

    def feed_into(self, body: bytearray, data: bytes, limit: int) -> None:
        """Append what ``data`` inflates to; ``TooLarge`` as soon as ``body`` would pass
        ``limit`` bytes. Inflated a slice at a time: no large temporary buffers."""
        while data:
            room = limit - len(body) + 1  # one byte more than allowed tells "too large"
            try:
                body += self._inflate.decompress(data, min(room, _INFLATE_SLICE))
            except zlib.error:
                raise BadEncoding(f"response body is not valid {self.coding}") from None
            if len(body) > limit:
                raise TooLarge(limit)
            data = self._inflate.unconsumed_tail
            if self._inflate.eof and self._inflate.unused_data:
                if self.coding == "deflate":
                    raise BadEncoding("response body has data after its deflate stream")
                # gzip allows several members one after another (RFC 1952): inflate the next.
                data = self._inflate.unused_data
                self._inflate = zlib.decompressobj(_CODINGS[self.coding])


def _readable(sock: socket.socket) -> bool:
    """Whether an idle socket has something to read: the server closed it, or misbehaves."""
    # poll, not select: select fails on descriptors above 1023, common in a busy server.
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _tls_context() -> ssl.SSLContext:
    """Certificate checks on, against certifi's bundle when it is installed (as requests does)."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _proxy_for(scheme: str, host: str) -> tuple[str, int] | None:
    """The proxy from the environment for this API root (read once, at start), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return (url.hostname or "", url.port or 8080)
