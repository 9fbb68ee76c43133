"""What every measure shares: the product's commands as subprocesses, HTTP, /proc, the output.

The product is driven only through its public surfaces: ``stract-reports simulator`` and
``stract-reports serve`` (with its defaults, what ships; settings by ``STRACT_*`` environment
variables, ``--workers``/``--threads`` by flag), HTTP to 127.0.0.1, and the simulator's
``/_sim/stats`` and ``/_sim/reset``. Each process runs in its own process group, stopped when
its ``with`` block ends, on error or Ctrl+C too. A measure of several servers (with and without
Redis, say) opens several ``serve`` blocks with ``env``/``args`` of its own and adds up their
``cpu()``; ``process`` runs any other program the same way (``redis-server`` in processes.py).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import requests

from stract_reports.simulator import DEFAULT_TOKEN

HOST = "127.0.0.1"
CLI = str(Path(sys.executable).with_name("stract-reports"))
TIMEOUT = 600.0  # seconds: no request of a benchmark waits longer
PLAIN = {"Accept-Encoding": "identity"}  # as a program reading CSV asks; browsers ask for gzip
# The shipped defaults, but the default store in a folder of this run: a benchmark never
# records its synthetic data into the user's own history.
STATE_HOME = tempfile.mkdtemp(prefix="stract-bench-state-")
atexit.register(shutil.rmtree, STATE_HOME, True)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank)."""
    return sorted(values)[int(0.95 * (len(values) - 1))]


class BenchError(RuntimeError):
    """A measure could not measure (a process failed, a report was not 200)."""


def machine() -> str:
    """CPUs, Python, date and load: the context of every result."""
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}"
    )


@dataclass
class Out:
    """Lines printed as they come and kept for results.md, and one row per goal."""

    lines: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)

    def __call__(self, *lines: str) -> None:
        print(*lines, sep="\n", flush=True)
        self.lines += lines

    def goal(self, name: str, value: float, target: str, against: str) -> None:
        """Record ``value`` against a target such as "≤ 1.05" or "≥ 150 req/s" (the value is
        shown with the target's decimals and unit) and what it is measured against."""
        sign, limit, unit = re.fullmatch(r"([≤≥]) ([\d.]+)(.*)", target).groups()
        mark = "✓" if (value <= float(limit) if sign == "≤" else value >= float(limit)) else "✗"
        shown = f"{value:,.{len(limit.partition('.')[2])}f}{unit}"
        self.goals.append(f"{name} | {shown} | {against} | {target} | {mark}")
        self(f"**{name}: {shown}** (against {against}; goal {target}) {mark}", "")

    def table(self, header: str, rows: Sequence[str]) -> None:
        """A Markdown table; the header and each row are cells joined by " | "."""
        self(f"| {header} |", "|" + "---|" * len(header.split(" | ")))
        self(*(f"| {row} |" for row in rows), "")


@contextlib.contextmanager
def process(
    args: Sequence[str], ready: Callable[[], bool], env: dict[str, str]
) -> Iterator[tuple[int, IO[bytes]]]:
    """Run ``args`` in a new process group; once ``ready()`` yield its pid and its output (a
    file); then stop it."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("STRACT_")}
        | {"XDG_STATE_HOME": STATE_HOME}
        | env
    )
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log, env=env, start_new_session=True)
        try:
            for _ in range(300):  # 30 s
                if proc.poll() is not None or ready():
                    break
                time.sleep(0.1)
            if proc.poll() is not None or not ready():
                log.seek(0)
                tail = log.read()[-1500:].decode(errors="replace")
                raise BenchError(f"{' '.join(args)} did not start:\n{tail}")
            yield proc.pid, log
        finally:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
                    break


def answers(url: str) -> bool:
    """Whether GET ``url`` answers 200 within 2 s."""
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=2).status_code == 200
    return False


def free_port() -> str:
    """A loopback port free right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return str(probe.getsockname()[1])


@dataclass(frozen=True)
class Simulator:
    """A ``stract-reports simulator`` process: its API root and its counters."""

    root: str

    @property
    def api_url(self) -> str:
        """What ``STRACT_API_URL`` is set to."""
        return f"{self.root}/api"

    def stats(self) -> dict[str, Any]:
        """The counters since the last reset."""
        return dict(requests.get(f"{self.root}/_sim/stats", timeout=10).json())

    def calls(self) -> int:
        """Upstream calls since the last reset."""
        return int(self.stats()["total"])

    def reset(self) -> None:
        """Clear the counters."""
        requests.post(f"{self.root}/_sim/reset", timeout=10).raise_for_status()


@contextlib.contextmanager
def simulator(*flags: str, latency_ms: float = 0) -> Iterator[Simulator]:
    """``stract-reports simulator FLAGS`` on a free port, ``latency_ms`` per call."""
    port = free_port()
    args = [CLI, "simulator", "--host", HOST, "--port", port, "--latency-ms", f"{latency_ms:g}"]
    with process([*args, *flags], lambda: answers(f"http://{HOST}:{port}/_sim/stats"), {}):
        yield Simulator(f"http://{HOST}:{port}")


@dataclass(frozen=True)
class Server:
    """A ``stract-reports serve`` process group (one process, or a master and its workers)."""

    base: str
    pgid: int
    log: IO[bytes]

    def output(self) -> bytes:
        """Everything it has written to stdout and stderr so far (its log)."""
        fd = self.log.fileno()  # pread: the offset is shared with the server's own writes
        return os.pread(fd, os.fstat(fd).st_size, 0)

    def _stats(self) -> Iterator[tuple[list[str], str]]:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                # The fields after "(command)"; the first of them is field 3 of proc(5).
                stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                if int(stat[2]) == self.pgid:
                    yield stat, Path(f"/proc/{pid}/status").read_text()

    def cpu(self) -> float:
        """User + system CPU seconds its live processes have used so far."""
        ticks = sum(int(stat[11]) + int(stat[12]) for stat, _ in self._stats())
        return ticks / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) among its processes, in MB."""
        return max(int(re.search(r"VmHWM:\s+(\d+)", s)[1]) / 1024 for _, s in self._stats())

    def rss_mb(self) -> float:
        """The largest resident set now (VmRSS) among its processes, in MB: measured idle,
        before a request, it is what a report's peak is counted over."""
        return max(int(re.search(r"VmRSS:\s+(\d+)", s)[1]) / 1024 for _, s in self._stats())


@contextlib.contextmanager
def serve(
    api_url: str, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[Server]:
    """``stract-reports serve`` with its defaults, pointed at ``api_url``."""
    port = free_port()
    env = {"STRACT_API_URL": api_url, "STRACT_API_TOKEN": DEFAULT_TOKEN, **(env or {})}
    args = [CLI, "serve", "--host", HOST, "--port", port, *args]
    with process(args, lambda: answers(f"http://{HOST}:{port}/healthz"), env) as (pid, log):
        yield Server(f"http://{HOST}:{port}", pid, log)


def session() -> requests.Session:
    """A client session that asks for plain (uncompressed) bodies."""
    http = requests.Session()
    http.headers.update(PLAIN)
    return http


def get(http: requests.Session, url: str) -> tuple[float, requests.Response]:
    """GET ``url``, insisting on 200; the seconds it took (body read) and the response."""
    start = time.perf_counter()
    response = http.get(url, timeout=TIMEOUT)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - start, response


def clients(count: int, work: Callable[[int], None], timeout: float = TIMEOUT) -> None:
    """Run ``work(index)`` in ``count`` threads started together; wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    end = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, end - time.monotonic()))


class Sample(NamedTuple):
    """One request of a load: ``status`` 0 is no HTTP answer; ``kept`` what ``keep`` made of it."""

    path: str
    status: int
    seconds: float
    kept: Any


def _sample(http: requests.Session, base: str, path: str, keep: Any, timeout: float) -> Sample:
    start = time.perf_counter()
    try:
        response = http.get(base + path, timeout=timeout)
        status, body = response.status_code, response.content
    except requests.RequestException as exc:
        status, body = 0, repr(exc).encode()
    kept = keep(path, status, body) if keep else None
    return Sample(path, status, time.perf_counter() - start, kept)


def hammer(
    base: str,
    paths: Sequence[str],
    count: int,
    seconds: float,
    keep: Any = None,
    timeout: float = TIMEOUT,
) -> list[Sample]:
    """``count`` clients request ``paths`` in turn, back to back, for ``seconds``;
    ``keep(path, status, body)`` says what to remember of each answer."""
    end, found = time.monotonic() + seconds, []

    def client(index: int) -> None:
        with session() as http:
            for n in range(100_000):
                if time.monotonic() >= end:
                    return
                found.append(_sample(http, base, paths[(index + n) % len(paths)], keep, timeout))

    clients(count, client, seconds + timeout)
    return found


def burst(base: str, paths: Sequence[str]) -> list[Sample]:
    """One client per path, all sending their request at the same moment."""
    barrier, found = threading.Barrier(len(paths)), []

    def client(index: int) -> None:
        with session() as http:
            barrier.wait(timeout=60)
            found.append(_sample(http, base, paths[index], None, TIMEOUT))

    clients(len(paths), client)
    return found
