"""Production serving: waitress worker processes on one listening socket, started from our CLI.

The host knows the app only as WSGI: ``run_server`` gets a factory that builds one per worker
process and a hook that closes it (the CLI passes ``create_app`` and ``close_app``), so the app
never imports its host and could be hosted by another WSGI server.

Why waitress (measured with ``bench/slow_clients.py``, see the README): its event loop reads
every request whole before a thread sees it, so a client that drips its headers or sends
nothing costs a socket, not a thread. gunicorn's gthread worker hands each new connection to
a thread that then blocks reading the headers: 32 dripping plus 200 idle connections made
``/healthz`` time out with 16 threads.

Limits on what a client may hold: ``request_timeout`` seconds to send a whole request
(``REQUEST_TIMEOUT`` unless told), ``IDLE_TIMEOUT`` seconds of silence on a kept-alive
connection, ``CONNECTION_LIMIT`` open connections per process, headers of ``MAX_HEADER_BYTES``
and bodies of ``MAX_BODY_BYTES``.

Each request is stamped with the monotonic time it was fully received
(``gate.ARRIVED``), for the report builds it may share (see ``gate.py``).

Shutdown (SIGTERM or SIGINT): stop accepting, let requests in flight finish for up to
``grace`` seconds, then close the app (its upstream client) so that reports still waiting on it
fail at once (they answer an upstream error, never a partial 200), give their answers ``FLUSH``
seconds to go out, and exit 0. The whole stays under a 30 s orchestrator stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, TypeVar

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from .config import GRACE, REQUEST_TIMEOUT
from .gate import ARRIVED
from .redaction import mask_query, printable, redact

log = logging.getLogger("stract_reports.serving")
access_log = logging.getLogger("stract_reports.access")

FLUSH = 2.0  # seconds for the answers of cut requests to go out
IDLE_TIMEOUT = 60  # seconds a kept-alive connection may stay silent
CONNECTION_LIMIT = 2000  # open connections per process; beyond, the backlog waits
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024  # every endpoint is a GET; a body is never needed
_LOOP_TIMEOUT = 0.25  # seconds one event-loop pass may wait: how soon a signal is noticed


class ListenError(Exception):
    """The address cannot be listened on (taken, not ours, no permission)."""


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

    def service(self) -> None:
        # The dispatcher runs one service() per add_task (one request each).
        try:
            super().service()
        finally:
            self.server.task_dispatcher.done()


class _Dispatcher(ThreadedTaskDispatcher):
    """Waitress's thread pool, counting the requests queued or being answered."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = 0
        self._count = threading.Lock()

    def add_task(self, task: Any) -> None:
        with self._count:
            self.pending += 1
        super().add_task(task)

    def done(self) -> None:
        """One request added by ``add_task`` has been answered (or failed)."""
        with self._count:
            self.pending -= 1


class _Server(TcpWSGIServer):
    channel_class = _Channel
    request_timeout = REQUEST_TIMEOUT  # seconds to send one whole request

    def maintenance(self, now: float) -> None:
        """Close idle channels (waitress) and those too slow to send one whole request."""
        super().maintenance(now)
        cutoff = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request
            if request is not None and not request.completed and request.started < cutoff:
                channel.will_close = True


def _adjustments(threads: int, *, forwarded_headers: bool = False) -> Adjustments:
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


class _AccessLog:
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


# The app served: any WSGI application (the host knows nothing else of it).
App = TypeVar("App", bound=Callable[..., Iterable[bytes]])


@dataclass(frozen=True)
class _Worker(Generic[App]):
    """What each worker process runs: an app from ``factory``, released by ``close`` once its
    requests had ``grace`` seconds; ``threads`` answer, and clients have ``request_timeout``
    seconds to send a request. ``forwarded_headers``: X-Forwarded-* come from a trusted proxy."""

    factory: Callable[[], App]
    close: Callable[[App], None]
    threads: int
    grace: float
    request_timeout: float
    forwarded_headers: bool


def _serve_process(worker: _Worker[Any], sock: socket.socket) -> None:
    """One worker process: its own app, threads and event loop over the shared socket."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = worker.factory()
    threads, grace = worker.threads, worker.grace
    dispatcher = _Dispatcher()
    dispatcher.set_thread_count(threads)
    sockets: dict[int, Any] = {}
    server = _Server(
        _AccessLog(app),
        sockets,
        _sock=sock,
        dispatcher=dispatcher,
        adj=_adjustments(threads, forwarded_headers=worker.forwarded_headers),
        bind_socket=False,
        sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
    )
    server.request_timeout = worker.request_timeout
    try:
        while not stop.is_set():
            wasyncore.loop(_LOOP_TIMEOUT, True, sockets, count=1)
        log.info("Shutting down: finishing %d request(s) in flight", dispatcher.pending)
        server.del_channel()
        sock.close()  # this process's copy: new connections are refused, or go to a sibling
        _drain(sockets, dispatcher, grace)
        if dispatcher.pending:
            log.warning("%d request(s) still running after %gs: cut", dispatcher.pending, grace)
    finally:
        worker.close(app)  # reports still waiting on the upstream fail at once
    _drain(sockets, dispatcher, FLUSH)
    dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(sockets)


def _drain(sockets: dict[int, Any], dispatcher: _Dispatcher, seconds: float) -> None:
    """Run the event loop until no request is pending and every answer is sent, or time is up."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        channels = [c for c in sockets.values() if isinstance(c, HTTPChannel)]
        for channel in channels:
            # Connections waiting for a next request will get none: close them when flushed.
            if not channel.requests and not channel.total_outbufs_len:
                channel.will_close = True
        busy = any(c.total_outbufs_len or c.requests for c in channels)
        if not dispatcher.pending and not busy:
            return
        wasyncore.loop(0.05, True, sockets, count=1)


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, to be shared by worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def run_server(
    factory: Callable[[], App],
    *,
    close: Callable[[App], None],
    host: str,
    port: int,
    workers: int,
    threads: int,
    grace: float = GRACE,
    request_timeout: float = REQUEST_TIMEOUT,
    forwarded_headers: bool = False,
    log_level: str = "info",
) -> None:
    """Serve the app ``factory`` builds (one per worker process) until SIGINT/SIGTERM with
    ``workers`` processes of ``threads`` threads, finishing requests in flight for up to
    ``grace`` seconds, then ``close(app)``; a client has ``request_timeout`` seconds to send a
    whole request. ``forwarded_headers``: keep X-Forwarded-* (one trusted proxy in front)."""
    worker = _Worker(factory, close, threads, grace, request_timeout, forwarded_headers)
    logging.getLogger("stract_reports").setLevel(log_level.upper())
    # waitress's own INFO lines ("Serving on ...") repeat ours; its warnings stay.
    logging.getLogger("waitress").setLevel(
        max(logging.WARNING, logging.getLevelName(log_level.upper()))
    )
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_host, bound_port = sock.getsockname()[:2]
    log.info(
        "Listening at: http://%s:%d (%d worker(s), %d thread(s) each)",
        bound_host,
        bound_port,
        workers,
        threads,
    )
    if workers <= 1:
        try:
            _serve_process(worker, sock)
        finally:
            sock.close()
        log.info("Stopped")
        _exit_if_stuck()
        return
    _supervise(worker, sock, workers)


def _supervise(worker: _Worker[Any], sock: socket.socket, workers: int) -> None:
    """Fork ``workers`` processes on ``sock``, replace any that dies, pass signals on."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children: set[int] = set()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _serve_process(worker, sock)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children.add(pid)

    for _ in range(workers):
        spawn()
    while not stopping.is_set():
        pid, status = _reap()
        if pid and pid in children:
            children.discard(pid)
            log.warning("worker %d exited (status %d); starting another", pid, status)
            time.sleep(0.5)  # a worker that cannot start must not spin
            if not stopping.is_set():
                spawn()
        stopping.wait(0.2)
    log.info("Shutting down: stopping %d worker(s)", len(children))
    sock.close()
    for pid in children:
        _signal(pid, signal.SIGTERM)
    until = time.monotonic() + worker.grace + FLUSH + 2
    while children and time.monotonic() < until:
        pid, _ = _reap()
        children.discard(pid)
        if not pid:
            time.sleep(0.05)
    for pid in children:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    log.info("Stopped")


def _exit_if_stuck() -> None:
    """Exit now if threads are still running (reads stuck on the upstream): the interpreter
    would wait for them at exit, past any orchestrator's stop timeout (it joins executor
    threads even when they are daemons)."""
    main = threading.main_thread()
    stuck = [t for t in threading.enumerate() if t is not main and t.is_alive()]
    if stuck:
        log.info("Exiting with %d thread(s) still running", len(stuck))
        logging.shutdown()
        os._exit(0)


def _reap() -> tuple[int, int]:
    try:
        return os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return 0, 0


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
