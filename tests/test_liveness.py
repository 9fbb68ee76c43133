"""Liveness of a real ``serve``: the probes never queue behind reports, and a worker that cannot
start stops ``serve`` with one line instead of leaving a socket nobody answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from hostile import Call, HostileUpstream, Reply, json_reply
from served import serve
from stract_reports.simulator import Simulator
from support import CLI, free_port, golden, require_mark

pytestmark = pytest.mark.serve

# A Redis URL that passes the settings' check but that the Redis client refuses when a worker
# builds its app: a worker that cannot start.
UNSTARTABLE = "redis://127.0.0.1:1/0?socket_timeout=abc"
WHY = "ValueError: Invalid value for 'socket_timeout' in connection URL."
ATTEMPTS = 5  # failed starts in a row that stop serve (serving.START_ATTEMPTS, the README)
PROBE_LIMIT = 1.0  # seconds: generous on a busy machine; queued probes took the report's 4 s


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _timed(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(url, timeout=30).status_code
    return status, time.monotonic() - started


def test_probes_are_answered_while_every_report_thread_waits_on_the_upstream(
    make_hostile: Callable[..., HostileUpstream],
) -> None:
    def slow_insights(call: Call) -> Reply | None:
        if call.endpoint != "insights":
            return None
        reply = json_reply(call.honest)
        reply.delay = 4.0
        return reply

    upstream = make_hostile(slow_insights)
    with serve(upstream.url, "--threads", "4") as served, ThreadPoolExecutor(8) as pool:
        reports = [pool.submit(requests.get, f"{served.base}/geral", timeout=60) for _ in range(8)]
        until = time.monotonic() + 10
        while upstream.calls["insights"] == 0:  # every report thread now waits on the build
            assert time.monotonic() < until
            time.sleep(0.02)
        time.sleep(0.3)  # and the four requests beyond the threads are queued

        healthz = _timed(f"{served.base}/healthz")
        readyz = _timed(f"{served.base}/readyz")

        assert healthz[0] == 200 and healthz[1] < PROBE_LIMIT, healthz
        assert readyz[0] == 200 and readyz[1] < PROBE_LIMIT, readyz
        assert not any(report.done() for report in reports)  # the probes did not wait for them
        for report in reports:
            response = report.result()
            assert response.status_code == 200
            assert response.content == golden("geral")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _unstartable(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    require_mark("serve")
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRACT_")}
    environ.update(STRACT_STORE_URL="off", STRACT_SHARED_URL=UNSTARTABLE)
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--api-url", "http://127.0.0.1:9/api", *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, port


def test_workers_that_cannot_start_stop_serve_with_one_line_and_no_connection_waits() -> None:
    process, port = _unstartable("--workers", "2")
    try:
        # While workers fail, nothing listens: a client is refused, never left waiting.
        until = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < until:
            assert _refused(port)
            time.sleep(0.1)
        err = process.communicate(timeout=1)[1].decode()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == 1
    assert err.splitlines()[-1] == (
        f"stract-reports: a worker failed to start {ATTEMPTS} times in a row: {WHY}"
    )
    assert err.count("could not start") == ATTEMPTS
    assert "Traceback" not in err
    assert _refused(port)


def test_a_single_worker_that_cannot_start_exits_with_one_line() -> None:
    process, port = _unstartable()
    try:
        err = process.communicate(timeout=30)[1].decode()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == 1
    assert err.splitlines()[-1] == f"stract-reports: {WHY}"
    assert "Traceback" not in err
    assert _refused(port)


def test_a_worker_that_dies_after_starting_is_replaced(simulator: Simulator) -> None:
    with serve(simulator.url, "--workers", "2") as served:
        first, second = _children(served.process.pid)
        os.kill(first, signal.SIGKILL)
        until = time.monotonic() + 10
        while first in _children(served.process.pid) or len(_children(served.process.pid)) < 2:
            assert time.monotonic() < until, served.log()
            time.sleep(0.05)
        assert second in _children(served.process.pid)
        for _ in range(4):
            response = requests.get(f"{served.base}/geral", timeout=10)
            assert response.content == golden("geral")
        assert served.stop(timeout=30) == 0
        assert f"worker {first} was killed by signal 9; starting another" in served.log()
