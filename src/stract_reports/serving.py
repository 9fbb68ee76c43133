"""Production serving: waitress worker processes on one listening socket, started from our CLI.

The host knows the app only as WSGI: ``run_server`` gets a factory that builds one per worker
process and a hook that closes it (the CLI passes ``create_app`` and ``close_app``), so the app
never imports its host and could be hosted by another WSGI server.

Why waitress (measured with ``bench/slow_clients.py``, see the README): its event loop reads
every request whole before a thread sees it, so a client that drips its headers or sends
nothing costs a socket, not a thread. gunicorn's gthread worker hands each new connection to
a thread that then blocks reading the headers: 32 dripping plus 200 idle connections made
``/healthz`` time out with 16 threads.

This module runs the processes: it binds the socket, forks and replaces workers, passes
signals on and stops them in time. What one worker serves with (waitress adapted: the limits on
what a client may hold, the arrival stamp, the probes' own threads, the access log, the drain)
is ``http_server``'s.

Starting: the parent binds the socket (a taken port fails at once), and the socket listens only
once a worker has built its app, so nothing connects while no process could answer. A worker
that cannot start (its app cannot be built) is replaced after ``RESPAWN_PAUSE`` seconds;
``START_ATTEMPTS`` failures in a row stop ``serve`` (``WorkerFailed``, one line), closing the
socket: no connection is left accepted and unanswered.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, TypeVar

from waitress import wasyncore

from .config import GRACE, REQUEST_TIMEOUT
from .http_server import AccessLog, Server, adjustments, dispatchers, drain, pending_requests
from .redaction import printable, redact

log = logging.getLogger("stract_reports.serving")

FLUSH = 2.0  # seconds for the answers of cut requests to go out
_LOOP_TIMEOUT = 0.25  # seconds one event-loop pass may wait: how soon a signal is noticed
START_ATTEMPTS = 5  # a worker failing to start this many times in a row stops serve
RESPAWN_PAUSE = 0.5  # seconds before a worker that died is replaced: a failing one must not spin
_STARTED = b"+"  # what a worker writes to its parent once its app is built and it listens
PIPE_BUF = 512  # a write this short to a pipe is atomic


class ListenError(Exception):
    """The address cannot be listened on (taken, not ours, no permission)."""


class WorkerFailed(Exception):
    """No worker could start: its app could not be built (the message is one line)."""


# The app served: any WSGI application (the host knows nothing else of it).
App = TypeVar("App", bound=Callable[..., Iterable[bytes]])


@dataclass(frozen=True)
class _Worker(Generic[App]):
    """What each worker process runs: an app from ``factory``, released by ``close`` once its
    requests had ``grace`` seconds; ``threads`` answer, and clients have ``request_timeout``
    seconds to send a request. ``forwarded_headers``: X-Forwarded-* come from a trusted proxy.
    ``probes``: paths answered by threads of their own."""

    factory: Callable[[], App]
    close: Callable[[App], None]
    threads: int
    grace: float
    request_timeout: float
    forwarded_headers: bool
    probes: tuple[str, ...]


def _serve_process(
    worker: _Worker[Any], sock: socket.socket, started: Callable[[], object] = lambda: None
) -> None:
    """One worker process: its own app, threads and event loop over the shared socket, which
    it makes listen once the app is built; then ``started()``. ``WorkerFailed`` when the app
    cannot be built."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        app = worker.factory()
    except Exception as exc:
        log.debug("the app could not be built", exc_info=True)
        raise WorkerFailed(_one_line(exc)) from None
    threads, grace = worker.threads, worker.grace
    pools = dispatchers(threads, worker.probes)
    sockets: dict[int, Any] = {}
    server = Server(
        AccessLog(app),
        sockets,
        _sock=sock,
        dispatcher=pools[""],
        adj=adjustments(threads, forwarded_headers=worker.forwarded_headers),
        bind_socket=False,
        sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
    )  # listens on the socket
    server.pools = pools
    server.request_timeout = worker.request_timeout
    started()
    try:
        while not stop.is_set():
            wasyncore.loop(_LOOP_TIMEOUT, True, sockets, count=1)
        log.info("Shutting down: finishing %d request(s) in flight", pending_requests(pools))
        server.del_channel()
        sock.close()  # this process's copy: new connections are refused, or go to a sibling
        drain(sockets, pools, grace)
        if pending_requests(pools):
            log.warning(
                "%d request(s) still running after %gs: cut", pending_requests(pools), grace
            )
    finally:
        worker.close(app)  # reports still waiting on the upstream fail at once
    drain(sockets, pools, FLUSH)
    for pool in pools.values():
        pool.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(sockets)


def _one_line(exc: BaseException) -> str:
    """An exception as one printable line, with no secret in it: for the CLI's last word."""
    return printable(redact(f"{type(exc).__name__}: {exc}"))[:300]


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``, to be shared by worker processes; it listens once a
    worker can answer (waitress's server listens when it is built)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
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
    probes: tuple[str, ...] = (),
    log_level: str = "info",
) -> None:
    """Serve the app ``factory`` builds (one per worker process) until SIGINT/SIGTERM with
    ``workers`` processes of ``threads`` threads, finishing requests in flight for up to
    ``grace`` seconds, then ``close(app)``; a client has ``request_timeout`` seconds to send a
    whole request. ``forwarded_headers``: keep X-Forwarded-* (one trusted proxy in front).
    ``probes``: paths answered by threads of their own, never queued behind the others.
    Raises ``ListenError`` when the address cannot be bound, ``WorkerFailed`` when no worker
    can start."""
    worker = _Worker(factory, close, threads, grace, request_timeout, forwarded_headers, probes)
    logging.getLogger("stract_reports").setLevel(log_level.upper())
    # waitress's own INFO lines ("Serving on ...") repeat ours; its warnings stay.
    logging.getLogger("waitress").setLevel(
        max(logging.WARNING, logging.getLevelName(log_level.upper()))
    )
    try:
        sock = bound_socket(host, port)
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
            sock.close()  # also when the app could not be built: nothing is left waiting
        log.info("Stopped")
        _exit_if_stuck()
        return
    _supervise(worker, sock, workers)


def _supervise(worker: _Worker[Any], sock: socket.socket, workers: int) -> None:
    """Fork ``workers`` processes on ``sock``, replace any that dies, pass signals on; after
    ``START_ATTEMPTS`` failed starts in a row, stop them all and raise ``WorkerFailed``."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children: dict[int, int] = {}  # pid -> the read end of its pipe (it says it started)
    failures, reason = 0, ""

    for _ in range(workers):
        pid, pipe = _spawn(worker, sock, children)
        children[pid] = pipe
    while not stopping.is_set():
        pid, status = _reap()
        if pid and pid in children:
            word = _drain_pipe(children.pop(pid))
            if word.startswith(_STARTED):
                failures = 0
                log.warning("worker %d %s; starting another", pid, _exit(status))
            else:
                failures += 1
                reason = word[1:].decode(errors="replace") or f"it {_exit(status)}"
                log.warning(
                    "worker %d could not start (%d of %d in a row): %s",
                    pid,
                    failures,
                    START_ATTEMPTS,
                    reason,
                )
                if failures >= START_ATTEMPTS:
                    break
            if not stopping.wait(RESPAWN_PAUSE):
                pid, pipe = _spawn(worker, sock, children)
                children[pid] = pipe
        stopping.wait(0.2)
    log.info("Shutting down: stopping %d worker(s)", len(children))
    sock.close()
    for pid in children:
        _signal(pid, signal.SIGTERM)
    until = time.monotonic() + worker.grace + FLUSH + 2
    while children and time.monotonic() < until:
        pid, _ = _reap()
        if pid in children:
            os.close(children.pop(pid))
        if not pid:
            time.sleep(0.05)
    for pid, pipe in children.items():
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe)
    if failures >= START_ATTEMPTS:
        raise WorkerFailed(f"a worker failed to start {failures} times in a row: {reason}")
    log.info("Stopped")


def _spawn(worker: _Worker[Any], sock: socket.socket, siblings: dict[int, int]) -> tuple[int, int]:
    """Fork one worker on ``sock``: its pid, and the read end of the pipe on which it writes
    ``_STARTED`` once it listens, or ``!`` and why it could not start."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        os.close(read_end)
        for pipe in siblings.values():
            os.close(pipe)
        try:
            _serve_process(worker, sock, lambda: os.write(write_end, _STARTED))
        except WorkerFailed as exc:
            os.write(write_end, b"!" + str(exc).encode()[:PIPE_BUF])
            code = 3
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _drain_pipe(pipe: int) -> bytes:
    """What an exited worker wrote on its pipe (it is closed: the read ends)."""
    chunks = []
    while chunk := os.read(pipe, PIPE_BUF):
        chunks.append(chunk)
    os.close(pipe)
    return b"".join(chunks)


def _exit(status: int) -> str:
    """A child's wait status in words."""
    code = os.waitstatus_to_exitcode(status)
    return f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}"


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
