"""One worker process's HTTP server, on waitress: how requests are read, queued, logged, drained.

``serving`` runs it in worker processes; this module knows nothing of processes or signals.

Limits on what a client may hold: ``request_timeout`` seconds to send a whole request
(``REQUEST_TIMEOUT`` unless told; ``Server.maintenance`` cuts a slower one), ``IDLE_TIMEOUT``
seconds of silence on a kept-alive connection, ``CONNECTION_LIMIT`` open connections per
process, headers of ``MAX_HEADER_BYTES`` and bodies of ``MAX_BODY_BYTES`` (``adjustments``).

Each request is stamped with the monotonic time it was fully received (``gate.ARRIVED``), for
the report builds it may share (see ``gate.py``).

The probes (the paths the caller names: ``/healthz``, ``/readyz``) are answered by threads of
their own, ``PROBE_THREADS`` per path (``dispatchers``): requests queued for the report threads
never delay them, and a slow ``/readyz`` (it asks the upstream, up to 2 s) never delays
``/healthz``.

``AccessLog`` writes one line per request, credentials redacted; ``drain`` runs the event loop
until the requests in flight are answered and sent, or time is up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from .config import REQUEST_TIMEOUT
from .gate import ARRIVED
from .redaction import mask_query, printable, redact

access_log = logging.getLogger("stract_reports.access")

IDLE_TIMEOUT = 60  # seconds a kept-alive connection may stay silent
CONNECTION_LIMIT = 2000  # open connections per process; beyond, the backlog waits
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024  # every endpoint is a GET; a body is never needed
PROBE_THREADS = 2  # threads per probe path


class _Parser(HTTPRequestParser):
    """A request parser that notes when its first bytes came and when it was complete."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()
        self.arrived: float | None = None

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.completed and self.arrived is None:
            self.arrived = time.monotonic()
        return consumed


class _Task(WSGITask):
    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        arrived = getattr(self.request, "arrived", None)
        environ[ARRIVED] = arrived if arrived is not None else time.monotonic()
        return environ


class _Channel(HTTPChannel):
    parser_class = _Parser
    task_class = _Task


class Dispatcher(ThreadedTaskDispatcher):
    """Waitress's thread pool, counting the requests queued or being answered."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = 0
        self._count = threading.Lock()

    def add_task(self, task: Any) -> None:
        with self._count:
            self.pending += 1
        super().add_task(_Counted(task, self))

    def done(self) -> None:
        """One request added by ``add_task`` has been answered (or failed, or was cancelled)."""
        with self._count:
            self.pending -= 1


class _Counted:
    """A channel's next request in a dispatcher's queue; counted done however it ends."""

    __slots__ = ("channel", "dispatcher")

    def __init__(self, channel: Any, dispatcher: Dispatcher) -> None:
        self.channel = channel
        self.dispatcher = dispatcher

    def service(self) -> None:
        # The channel answers its first request; it queues its next one itself (add_task).
        try:
            self.channel.service()
        finally:
            self.dispatcher.done()

    def cancel(self) -> None:
        try:
            self.channel.cancel()
        finally:
            self.dispatcher.done()


def dispatchers(threads: int, probes: tuple[str, ...]) -> dict[str, Dispatcher]:
    """The report threads (under ``""``) and each probe path's own threads."""
    pools = {"": Dispatcher(), **{path: Dispatcher() for path in probes}}
    for path, pool in pools.items():
        pool.set_thread_count(PROBE_THREADS if path else threads)
    return pools


class Server(TcpWSGIServer):
    channel_class = _Channel
    request_timeout = REQUEST_TIMEOUT  # seconds to send one whole request
    pools: dict[str, Dispatcher]  # the report threads (under "") and each probe's

    def add_task(self, task: Any) -> None:
        """Queue a channel's next request: a probe to its own threads, the rest to the report
        threads. (A channel answers its requests in order, one queued at a time.)"""
        request = task.requests[0]
        path = "" if request.error else getattr(request, "path", "")
        self.pools.get(path, self.pools[""]).add_task(task)

    def maintenance(self, now: float) -> None:
        """Close idle channels (waitress) and those too slow to send one whole request."""
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            if request is not None and not request.completed and request.started < cutoff:
                channel.will_close = True


def adjustments(threads: int, *, forwarded_headers: bool = False) -> Adjustments:
    """Waitress's settings for one worker: our limits, poll(), no proxy headers unless trusted."""
    return Adjustments(
        threads=threads,
        ident="stract-reports",
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT,
        cleanup_interval=2,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=MAX_BODY_BYTES,
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
        expose_tracebacks=False,
        # X-Forwarded-* are dropped unless the app trusts the one proxy in front (ProxyFix).
        clear_untrusted_proxy_headers=not forwarded_headers,
    )


class AccessLog:
    """WSGI middleware: one line per request once its answer is sent, credentials redacted.

    The line holds the client address, method, path, query with every ``key``/``token`` value
    as ``***`` (whole values, and any secret the process knows), status, bytes and seconds;
    never a request header. What the client sent has its control characters escaped: a
    ``%0d%0a`` in a path cannot forge a line.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        begun = time.monotonic()
        status: list[str] = []
        # Read now: the app may rewrite the query (access.py takes ?key= out of it).
        query = environ.get("QUERY_STRING", "")

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, exc_info)

        body = self.app(environ, start)
        return self._logged(environ, query, body, status, begun)

    def _logged(
        self,
        environ: dict[str, Any],
        query: str,
        body: Iterable[bytes],
        status: list[str],
        begun: float,
    ) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            target = environ.get("PATH_INFO", "") + (f"?{mask_query(query)}" if query else "")
            access_log.info(
                '%s "%s %s %s" %s %d %.3fs',
                printable(environ.get("REMOTE_ADDR") or "-"),
                printable(environ.get("REQUEST_METHOD", "-")),
                printable(redact(target)),
                printable(environ.get("SERVER_PROTOCOL", "-")),
                status[0] if status else "-",
                sent,
                time.monotonic() - begun,
            )


def pending_requests(pools: dict[str, Dispatcher]) -> int:
    """The requests queued or being answered, over every pool."""
    return sum(pool.pending for pool in pools.values())


def drain(sockets: dict[int, Any], pools: dict[str, Dispatcher], seconds: float) -> None:
    """Run the event loop until no request is pending and every answer is sent, or time is up."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        channels = [c for c in sockets.values() if isinstance(c, HTTPChannel)]
        for channel in channels:
            # Connections waiting for a next request will get none: close them when flushed.
            if not channel.requests and not channel.total_outbufs_len:
                channel.will_close = True
        busy = any(c.total_outbufs_len or c.requests for c in channels)
        if not pending_requests(pools) and not busy:
            return
        wasyncore.loop(0.05, True, sockets, count=1)


__all__ = [
    "CONNECTION_LIMIT",
    "IDLE_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "PROBE_THREADS",
    "AccessLog",
    "Dispatcher",
    "Server",
    "adjustments",
    "dispatchers",
    "drain",
    "pending_requests",
]
