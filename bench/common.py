"""What the benchmarks share: servers and processes on 127.0.0.1, timed requests, statistics.

Everything started here stops when its ``with`` block ends, even on error: the in-process
report server and subprocesses (each in its own process group, so a gunicorn master and its
workers stop together). The simulator always runs in its own process, so that its CPU neither
slows the report server down nor counts as the report server's.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import requests
from werkzeug.serving import make_server

from stract_reports import create_app
from stract_reports.config import Settings
from stract_reports.simulator import Dataset, real_dataset

HOST = "127.0.0.1"
BENCH = Path(__file__).resolve().parent
# The console script installed next to this interpreter (the project's virtualenv).
CLI = str(Path(sys.executable).with_name("stract-reports"))
REQUEST_TIMEOUT = 120.0  # seconds: no benchmark request may hang longer

# One line per request would drown the benchmark output.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class BenchError(RuntimeError):
    """A benchmark could not measure what it set out to (a server failed, a report was not 200)."""


# -- numbers ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median; the benchmarks report it because the machines are shared and noisy."""
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mark(ok: bool) -> str:
    """The sign printed next to a goal."""
    return "✓" if ok else "✗"


def machine() -> str:
    """CPU count, Python version, date and load: the context every result needs."""
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}"
    )


# -- the upstream's shape --------------------------------------------------------------------


def _pages(count: int, size: int | None) -> int:
    return 1 if size is None else max(1, -(-count // size))


def dependent_round_trips(dataset: Dataset) -> int:
    """How many calls of ``/geral`` must follow one another, read from the data's shape.

    The platform list; then per platform: page 1 of fields and accounts, the other pages when
    either resource has more than one, insights page 1, and the other insight pages if any.
    The longest platform chain sets the critical path.
    """
    longest = 0
    for p in dataset.platforms:
        listing = max(
            _pages(len(p.fields), p.fields_page_size),
            _pages(len(p.accounts), p.accounts_page_size),
        )
        insights = 1
        if p.insights_page_size is not None:
            insights = max(
                (_pages(len(p.insight_rows(a)), p.insights_page_size) for a in p.accounts),
                default=1,
            )
        longest = max(longest, 1 + (listing > 1) + 1 + (insights > 1))
    return 1 + longest


# -- in-process servers ----------------------------------------------------------------------


@contextlib.contextmanager
def report_server(settings: Settings) -> Iterator[str]:
    """The report app behind werkzeug's threaded server in this process; yields its base URL."""
    app = create_app(settings=settings)
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="report-server", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.extensions["stract_client"].close()


def timed_get(http: requests.Session, url: str) -> tuple[float, requests.Response]:
    """GET ``url``; the seconds it took and the response (body read)."""
    start = time.perf_counter()
    response = http.get(url, timeout=REQUEST_TIMEOUT)
    return time.perf_counter() - start, response


def get_ok(http: requests.Session, url: str) -> tuple[float, requests.Response]:
    """``timed_get`` that insists on HTTP 200: a benchmark of an error page measures nothing."""
    seconds, response = timed_get(http, url)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return seconds, response


@dataclass(frozen=True)
class GeralTiming:
    """``/geral`` timed against the simulator at one latency: one entry per repetition."""

    latency: float
    round_trips: int
    walls: list[float]
    calls: list[int]
    max_in_flight: int

    @property
    def wall(self) -> float:
        """Median wall time of the request, in seconds."""
        return median(self.walls)

    @property
    def upstream_calls(self) -> float:
        """Median number of upstream calls of one request."""
        return median(self.calls)

    @property
    def ratio(self) -> float:
        """Wall time over the critical path (dependent round trips x latency)."""
        return self.wall / (self.round_trips * self.latency)


def time_geral(latency: float, *, repeat: int = 3, **settings: Any) -> GeralTiming:
    """Time ``/geral`` over HTTP, the real-data simulator (its own process) at ``latency`` s
    per call, the report server in this process with ``Settings(**settings)``."""
    with (
        simulator_process(latency=latency) as sim,
        report_server(Settings(api_url=sim.api_url, **settings)) as base,
        requests.Session() as http,
    ):
        get_ok(http, f"{base}/geral")  # warm-up: pooled connections open, code paths loaded
        walls, calls, peak = [], [], 0
        for _ in range(repeat):
            sim.reset()
            seconds, _ = get_ok(http, f"{base}/geral")
            stats = sim.stats()
            walls.append(seconds)
            calls.append(stats["total"])
            peak = max(peak, stats["max_in_flight"])
    return GeralTiming(latency, dependent_round_trips(real_dataset()), walls, calls, peak)


# -- subprocesses ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without ``STRACT_*``: a benchmark configures its servers by flags only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("STRACT_")}


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]


@contextlib.contextmanager
def started(args: Sequence[str], ready_url: str, *, name: str) -> Iterator[subprocess.Popen]:
    """Run ``args`` in a new process group; yield once ``ready_url`` answers 200; then stop it.

    Stopping is SIGTERM to the group (gunicorn finishes requests in flight), then SIGKILL to
    the group if it has not exited 20 seconds later.
    """
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            list(args),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=clean_env(),
            start_new_session=True,
        )
        try:
            _wait_ready(proc, ready_url, name, log)
            yield proc
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen, url: str, name: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{name} did not answer {url} within 30 s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@dataclass(frozen=True)
class Upstream:
    """A simulator subprocess: the API root to point a report server at, its counters, its pid."""

    api_url: str
    root: str
    pid: int

    def stats(self) -> dict[str, Any]:
        """The simulator's counters (``GET /_sim/stats``)."""
        return requests.get(f"{self.root}/_sim/stats", timeout=10).json()

    def reset(self) -> None:
        """Clear the counters (``POST /_sim/reset``)."""
        requests.post(f"{self.root}/_sim/reset", timeout=10).raise_for_status()


@contextlib.contextmanager
def simulator_process(*flags: str, latency: float = 0.0) -> Iterator[Upstream]:
    """``stract-reports simulator FLAGS`` as a subprocess on a free port, ``latency`` s a call."""
    port = free_port()
    root = f"http://{HOST}:{port}"
    args = [CLI, "simulator", "--host", HOST, "--port", str(port)]
    args += ["--latency-ms", f"{latency * 1000:g}", *flags]
    with started(args, f"{root}/_sim/stats", name="simulator") as proc:
        yield Upstream(f"{root}/api", root, proc.pid)


@dataclass(frozen=True)
class ReportServer:
    """A gunicorn subprocess: its base URL and process group (master and workers)."""

    base: str
    pgid: int


@contextlib.contextmanager
def gunicorn_server(api_url: str, *, workers: int, threads: int) -> Iterator[ReportServer]:
    """``stract-reports serve`` (gunicorn, gthread) as a subprocess."""
    port = free_port()
    args = [CLI, "serve", "--host", HOST, "--port", str(port), "--api-url", api_url]
    args += ["--workers", str(workers), "--threads", str(threads)]
    base = f"http://{HOST}:{port}"
    with started(args, f"{base}/healthz", name="report server") as proc:
        yield ReportServer(base, proc.pid)


def _stat(pid: str) -> list[str]:
    # The fields after "(command)"; the first of them is field 3 of proc(5).
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    return _cpu(_stat(str(pid)))


def group_cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the live processes of a process group (a gunicorn master and
    its workers)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = _stat(entry.name)
                if int(fields[2]) == pgid:
                    total += _cpu(fields)
    return total


# -- load from client threads ----------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request of a load run; ``status`` 0 means no HTTP answer at all."""

    path: str
    status: int
    seconds: float
    kept: bytes | None  # what ``keep`` made of the body, when asked


Keep = Callable[[str, int, bytes], bytes]


def run_clients(
    base: str,
    paths: Sequence[str],
    *,
    clients: int,
    seconds: float,
    keep: Keep | None = None,
    max_requests: int = 100_000,
) -> list[Sample]:
    """``clients`` threads request random ``paths`` back to back for ``seconds``.

    Bounded twice: by time and by ``max_requests`` per client. ``keep(path, status, body)``
    says what to remember of each response (bodies themselves would fill the memory).
    """
    end = time.monotonic() + seconds
    per_client: list[list[Sample]] = [[] for _ in range(clients)]

    def client(index: int) -> None:
        pick = random.Random(index)
        out = per_client[index]
        with requests.Session() as http:
            while time.monotonic() < end and len(out) < max_requests:
                path = pick.choice(paths)
                start = time.perf_counter()
                try:
                    response = http.get(base + path, timeout=REQUEST_TIMEOUT)
                    status, body = response.status_code, response.content
                except requests.RequestException as exc:
                    status, body = 0, type(exc).__name__.encode()
                elapsed = time.perf_counter() - start
                out.append(
                    Sample(path, status, elapsed, keep(path, status, body) if keep else None)
                )

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT + 5)
    return [sample for samples in per_client for sample in samples]
