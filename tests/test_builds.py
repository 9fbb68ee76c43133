"""Shared report builds: one build for overlapping requests, none reused from before a request,
at most ``max_builds`` at once — with real threads, and on the real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from served import serve
from stract_reports.errors import Overloaded
from stract_reports.gate import BuildGate
from stract_reports.simulator import Simulator
from support import golden


class Blocked:
    """A build that waits until released, counting its calls; returns a fresh object each."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        self.started.release()
        assert self.release.wait(10)
        return object()


def test_overlapping_requests_share_one_build() -> None:
    gate, build = BuildGate(max_builds=1), Blocked()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(gate.get, "geral", time.monotonic(), build)
        assert build.started.acquire(timeout=5)
        # Seven more while it runs, one of them arrived long before (it still joins).
        others = [pool.submit(gate.get, "geral", time.monotonic() - i, build) for i in range(7)]
        time.sleep(0.1)
        build.release.set()
        results = {id(f.result(timeout=10)) for f in [first, *others]}
    assert build.calls == 1
    assert len(results) == 1


def test_a_finished_build_serves_only_requests_that_arrived_before_it_finished() -> None:
    gate, build = BuildGate(max_builds=1), Blocked()
    build.release.set()
    arrived_before = time.monotonic()
    result = gate.get("geral", arrived_before, build)
    # Arrived while it ran, but handed to a thread after it finished: the same result.
    assert gate.get("geral", arrived_before, build) is result
    # Arrived after it finished: read afresh.
    fresh = gate.get("geral", time.monotonic(), build)
    assert fresh is not result and build.calls == 2
    # Another report never shares.
    assert gate.get("meta_ads", arrived_before, build) is not result and build.calls == 3


def test_a_finished_build_is_forgotten_after_keep_seconds() -> None:
    gate, build = BuildGate(max_builds=1, keep=0.2), Blocked()
    build.release.set()
    arrived = time.monotonic()
    result = gate.get("geral", arrived, build)
    time.sleep(0.4)
    assert gate.get("geral", arrived, build) is not result
    assert build.calls == 2


def test_a_failed_build_fails_every_request_that_joined_it_and_is_not_kept() -> None:
    gate = BuildGate(max_builds=1)
    release = threading.Event()
    calls: list[int] = []

    def failing() -> object:
        calls.append(1)
        assert release.wait(10)
        raise Overloaded("upstream said no")

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(gate.get, "geral", time.monotonic(), failing)]
        time.sleep(0.2)
        futures += [pool.submit(gate.get, "geral", time.monotonic(), failing) for _ in range(3)]
        time.sleep(0.2)
        release.set()
        for future in futures:
            with pytest.raises(Overloaded, match="upstream said no"):
                future.result(timeout=10)
    assert len(calls) == 1
    # A request arrived during the failed build builds again.
    assert gate.get("geral", 0.0, lambda: "ok") == "ok"


def test_more_distinct_builds_than_max_builds_answer_overloaded_at_once() -> None:
    gate, build = BuildGate(max_builds=2), Blocked()
    with ThreadPoolExecutor(3) as pool:
        running = [pool.submit(gate.get, key, time.monotonic(), build) for key in ("a", "b")]
        assert build.started.acquire(timeout=5) and build.started.acquire(timeout=5)
        start = time.monotonic()
        with pytest.raises(Overloaded) as raised:
            gate.get("c", time.monotonic(), build)
        assert time.monotonic() - start < 1
        assert raised.value.status == 503 and raised.value.retry_after == 1.0
        # Joining a running build is not one more build.
        joined = pool.submit(gate.get, "a", time.monotonic(), build)
        build.release.set()
        assert joined.result(timeout=10) is running[0].result(timeout=10)
    assert build.calls == 2
    assert gate.get("c", time.monotonic(), lambda: "c") == "c"


def _burst(url: str, clients: int) -> list[requests.Response]:
    barrier = threading.Barrier(clients)

    def get(_: int) -> requests.Response:
        barrier.wait(10)
        return requests.get(url, timeout=60)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(get, range(clients)))


def _calls(sim: Simulator, action: Callable[[], object]) -> int:
    sim.reset()
    action()
    return int(sim.stats()["total"])


@pytest.mark.serve
def test_simultaneous_identical_reports_on_serve_cost_one_report(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(latency=0.1)
    with serve(sim.url) as served:
        url = f"{served.base}/geral"
        # Arrived after that build finished, the burst does not reuse it: it builds anew.
        one = _calls(sim, lambda: requests.get(url, timeout=30))
        responses: list[requests.Response] = []
        burst = _calls(sim, lambda: responses.extend(_burst(url, 20)))
        assert [r.status_code for r in responses] == [200] * 20
        assert all(r.content == golden("geral") for r in responses)
        assert burst == one
        # Right after, a new request arrives after the build finished: it reads afresh.
        assert _calls(sim, lambda: requests.get(url, timeout=30)) == one


@pytest.mark.serve
def test_requests_queued_behind_a_build_reuse_it_by_their_arrival_time(
    make_simulator: Callable[..., Simulator],
) -> None:
    """One thread: the other requests wait in the server's queue until the build is over;
    they arrived while it ran, so they get its table (the server stamped their arrival)."""
    sim = make_simulator(latency=0.2)
    with serve(sim.url, "--threads", "1") as served:
        url = f"{served.base}/geral"
        one = _calls(sim, lambda: requests.get(url, timeout=30))
        responses: list[requests.Response] = []
        burst = _calls(sim, lambda: responses.extend(_burst(f"{url}.json", 5)))
        assert [r.status_code for r in responses] == [200] * 5
        assert burst == one


@pytest.mark.serve
def test_serve_answers_503_beyond_max_builds(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(latency=0.5)
    with serve(sim.url, "--max-builds", "1") as served:
        barrier = threading.Barrier(2)

        def get(path: str) -> requests.Response:
            barrier.wait(10)
            return requests.get(f"{served.base}/{path}", timeout=60)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(get, ["geral", "ga4/resumo"]))
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 503]
        refused = next(r for r in results if r.status_code == 503)
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {
            "error": "too many reports at once",
            "detail": "this server is building 1 report(s), as many as it builds at once; "
            "try again in a moment",
            "status": 503,
        }
