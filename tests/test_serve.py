"""``stract-reports serve`` as a subprocess on loopback: the same bytes, worker processes, and a
SIGTERM that finishes requests in flight yet exits in time when the upstream is stuck."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from served import serve
from stract_reports.config import Settings
from stract_reports.serving import FLUSH
from stract_reports.simulator import Simulator
from support import CLI, REPORTS, free_port, golden, require_mark

pytestmark = pytest.mark.serve


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_worker_processes_serve_the_golden_reports(simulator: Simulator) -> None:
    with serve(simulator.url, "--workers", "2", "--threads", "4") as served:
        assert len(_children(served.process.pid)) == 2
        with requests.Session() as session:
            for report in REPORTS:
                response = session.get(f"{served.base}/{report}", timeout=10)
                assert response.status_code == 200
                assert response.content == golden(report)
            assert session.get(f"{served.base}/readyz", timeout=10).json() == {
                "status": "ready",
                "platforms": 3,
                "shared": "off",
                "store": "off",
            }
        assert served.stop(timeout=30) == 0
        log = served.log()
    assert f"Listening at: {served.base} (2 worker(s), 4 thread(s) each)" in log
    assert "Shutting down" in log and "Stopped" in log


def _get_later(url: str) -> Future[requests.Response]:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(requests.get, url, timeout=60)
    pool.shutdown(wait=False)
    return future


def _refused(base: str) -> bool:
    try:
        requests.get(f"{base}/healthz", timeout=2)
    except requests.ConnectionError:
        return True
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_finishes_the_report_in_flight_and_refuses_new_ones(
    make_simulator: Callable[..., Simulator], workers: str
) -> None:
    sim = make_simulator(latency=0.5)  # /geral: four round trips, about 2 s
    with serve(sim.url, "--workers", workers) as served:
        in_flight = _get_later(f"{served.base}/geral")
        time.sleep(0.8)
        assert sim.stats()["in_flight"] >= 1
        served.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert _refused(served.base)
        response = in_flight.result(timeout=30)
        assert response.status_code == 200 and response.content == golden("geral")
        assert served.process.wait(20) == 0


@pytest.fixture
def stalled_upstream() -> Iterator[str]:
    """``stract-reports simulator`` whose every answer stalls 60 s halfway through its body."""
    require_mark("serve")
    port = free_port()
    process = subprocess.Popen(
        [CLI, "simulator", "--port", str(port), "--faults", "stall:delay=60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=1).close()
                break
            except requests.ConnectionError:
                assert time.monotonic() < until and process.poll() is None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        process.kill()
        process.wait(10)


def _stop_with_a_stuck_report(api_url: str, *args: str) -> tuple[float, str, object]:
    """SIGTERM while a report waits on a stalled upstream: seconds to exit, the log, and what
    the client got (a response or the connection error)."""
    with serve(api_url, *args) as served:
        in_flight = _get_later(f"{served.base}/geral")
        time.sleep(1.0)
        start = time.monotonic()
        status = served.stop(timeout=40)
        took = time.monotonic() - start
        assert status == 0
        try:
            outcome: object = in_flight.result(timeout=10).status_code
        except requests.RequestException as exc:
            outcome = type(exc)
        return took, served.log(), outcome


def test_sigterm_cuts_a_report_stuck_on_the_upstream_after_the_graceful_window(
    stalled_upstream: str,
) -> None:
    """The window is a flag: 2 s here. The stuck report is cut, then its answer has FLUSH s."""
    took, log, outcome = _stop_with_a_stuck_report(stalled_upstream, "--grace", "2")
    assert 1.5 < took < 2 + FLUSH + 3, log
    assert "1 request(s) still running after 2s: cut" in log
    assert outcome != 200  # an error answer, or the connection closed: never a partial 200


def test_the_default_window_fits_a_30_second_orchestrator_stop() -> None:
    """By default requests in flight get 20 s, their answers FLUSH more: about 22 s at worst
    (the test above times that path with a shorter window)."""
    grace = Settings().grace
    assert grace == 20
    assert grace + FLUSH + 3 < 30


def test_serve_on_a_taken_port_fails_with_one_line(simulator: Simulator) -> None:
    with serve(simulator.url) as served:
        port = served.base.rsplit(":", 1)[1]
        result = subprocess.run(
            [CLI, "serve", "--port", port, "--api-url", simulator.url],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"stract-reports: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )
