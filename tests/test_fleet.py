"""Several real ``stract-reports serve`` processes sharing one real ``redis-server``.

Each test starts its own Redis (conftest's ``make_redis``), its upstream on loopback and its
serve processes (``served.serve``), and stops them all. What the processes share is only what
Redis carries: in-flight reads, the warm shape and the upstream's rate budget. The upstreams
take a bearer token of the test's own: with the public one, there is no secret to seal what
the processes hand each other, and reads and the shape are not shared.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import pytest
import requests
from flask import Flask

from hostile import Call, HostileUpstream, Reply, json_reply
from redisd import RedisServer
from served import Served, serve
from stract_reports.simulator import DEFAULT_TOKEN, Simulator
from support import assert_rate_within, golden

pytestmark = [pytest.mark.serve, pytest.mark.redis]

BEARER = "a-bearer-token-only-these-servers-have"

GERAL = golden("geral")
# The serve processes log what the shared backend says, and only that is counted here.
SHARED_LOG = "shared state at "


def _stats(sim: Simulator) -> int:
    """Upstream calls since the last reset, from the simulator's own ``/_sim/stats``."""
    base = sim.url.removesuffix("/api")
    return int(requests.get(f"{base}/_sim/stats", timeout=5).json()["total"])


def _reset(sim: Simulator) -> None:
    base = sim.url.removesuffix("/api")
    requests.post(f"{base}/_sim/reset", timeout=5).raise_for_status()


@contextmanager
def _fleet(
    api_url: str, count: int, env: dict[str, str], token: str = BEARER
) -> Iterator[list[Served]]:
    """``count`` serve processes on their own ports with the same environment (and token)."""
    env = {"STRACT_API_TOKEN": token, **env}
    with ExitStack() as stack:
        yield [stack.enter_context(serve(api_url, env=env)) for _ in range(count)]


def _get(url: str, timeout: float = 60) -> requests.Response:
    return requests.get(url, timeout=timeout)


def _all_at_once(urls: list[str]) -> list[requests.Response]:
    """GET every URL at the same moment (one thread each, released together)."""
    go = threading.Barrier(len(urls))

    def one(url: str) -> requests.Response:
        go.wait(30)
        return _get(url)

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(one, urls))


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileUpstream]]:
    """Start hostile upstreams (real data; ``tamper`` rewrites answers) that stop at the end."""
    with ExitStack() as stack:
        yield lambda tamper=None: stack.enter_context(HostileUpstream(tamper, token=BEARER))


# -- single-flight ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shared", "token"),
    [(True, BEARER), (False, BEARER), (False, DEFAULT_TOKEN)],
    ids=["shared", "alone", "public token"],
)
def test_two_processes_of_ten_identical_reports_cost_the_calls_of_one(
    redis_server: RedisServer, make_simulator: Callable[..., Simulator], shared: bool, token: str
) -> None:
    # With the public token, the same Redis shares no read: nothing to seal them with.
    sim = make_simulator(latency=0.2, token=token)
    with serve(sim.url, env={"STRACT_API_TOKEN": token}) as alone:
        assert _get(f"{alone.base}/geral").content == GERAL
    one = _stats(sim)

    env = {"STRACT_SHARED_URL": redis_server.url if shared or token == DEFAULT_TOKEN else ""}
    with _fleet(sim.url, 2, env, token) as fleet:
        _reset(sim)
        answers = _all_at_once([f"{served.base}/geral" for served in fleet for _ in range(10)])
        calls = _stats(sim)
        logs = [served.log() for served in fleet]

    assert [(a.status_code, a.content) for a in answers] == [(200, GERAL)] * 20
    said = "the API token is the public one, so there is no secret to seal shared values with"
    assert all((said in log) == (token == DEFAULT_TOKEN) for log in logs)
    assert one >= 20  # the real data: the platform list, fields, accounts and insights
    if shared:
        assert calls <= 1.5 * one
    else:  # each process reads everything: what Redis saves
        assert calls >= 1.9 * one


def test_a_reader_killed_mid_read_is_taken_over(
    redis_server: RedisServer, hostile: Callable[..., HostileUpstream]
) -> None:
    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "platforms" and call.number == 1:  # the first reader hangs
            reply = json_reply(call.honest)
            reply.delay = 20.0
            return reply
        return None

    upstream = hostile(tamper)
    with (
        _fleet(upstream.url, 2, {"STRACT_SHARED_URL": redis_server.url}) as (reader, waiter),
        ThreadPoolExecutor(2) as pool,
    ):
        pool.submit(_get, f"{reader.base}/geral", 10)  # it dies before answering
        _until(lambda: upstream.calls["platforms"] == 1)
        taken_over = pool.submit(_get, f"{waiter.base}/geral")
        with redis_server.client() as redis:  # the waiter joined the reader's read
            _until(lambda: any(b":join:" in key for key in redis.scan_iter("*")))
        time.sleep(0.5)
        assert upstream.calls["platforms"] == 1  # it waits, it does not read
        reader.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        answer = taken_over.result(30)
        waited = time.monotonic() - killed

    assert (answer.status_code, answer.content) == (200, GERAL)
    assert upstream.calls["platforms"] == 2  # the waiter read it once the lock expired
    assert waited < 2.0 + 3.0  # the lock's 2 s, and room for a busy machine


# -- Redis down ------------------------------------------------------------------------------------


def test_redis_stopped_mid_run_reports_stay_correct_and_readyz_says_so(
    make_redis: Callable[..., RedisServer], make_simulator: Callable[..., Simulator]
) -> None:
    password = "redis-password-never-logged"
    server, sim = make_redis(password=password), make_simulator(token=BEARER)
    retry = 0.5  # seconds between probes (3 by default)
    env = {"STRACT_SHARED_URL": server.url, "STRACT_SHARED_RETRY": str(retry)}
    with _fleet(sim.url, 2, env) as fleet:

        def check(state: str) -> None:
            for served in fleet:
                for _ in range(3):
                    answer = _get(f"{served.base}/geral")
                    assert (answer.status_code, answer.content) == (200, GERAL)
                ready = _get(f"{served.base}/readyz")
                assert (ready.status_code, ready.json()["shared"]) == (200, state)
                assert ("shared_detail" in ready.json()) == (state == "down")

        check("connected")
        server.stop()
        check("down")
        time.sleep(retry + 0.5)  # past the time between probes: Redis is asked again, still gone
        check("down")
        server.start()
        time.sleep(retry + 0.5)
        _get(f"{fleet[0].base}/geral")  # the first call after the probe interval reconnects
        _get(f"{fleet[1].base}/geral")
        check("connected")
        logs = [served.log() for served in fleet]

    for log in logs:
        lines = [line for line in log.splitlines() if SHARED_LOG in line]
        assert len(lines) == 2, lines  # one line per change of state, however many reports
        assert "is unreachable" in lines[0] and f"127.0.0.1:{server.port}/0" in lines[0]
        assert "answers again" in lines[1]
        assert password not in log and BEARER not in log


# -- rate budget -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("processes", "shared"), [(2, True), (1, False)])
def test_the_rate_budget_holds_under_a_burst(
    redis_server: RedisServer,
    hostile: Callable[..., HostileUpstream],
    processes: int,
    shared: bool,
) -> None:
    rps = 10
    upstream = hostile()
    env = {"STRACT_SHARED_URL": redis_server.url if shared else "", "STRACT_UPSTREAM_RPS": "10"}
    paths = ["geral", "meta_ads", "ga4", "tiktok_insights"]
    with _fleet(upstream.url, processes, env) as fleet:
        urls = [f"{served.base}/{path}.csv" for served in fleet for path in paths]
        with upstream.lock:
            upstream.log.clear()
        # Twice: the second wave is warm, every call of every report asked for at once.
        answers = _all_at_once(urls) + _all_at_once(urls)

    expected = [(200, golden(path)) for _ in fleet for path in paths]
    assert [(a.status_code, a.content) for a in answers] == expected * 2
    times = sorted(t for _, _, t in upstream.log)
    assert len(times) >= 3 * rps  # enough calls for the rate to be measured
    assert_rate_within(times, rps)


def test_a_report_the_budget_cannot_serve_in_time_is_503_with_retry_after(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    # 30 calls at 2 a second cannot fit in 1.5 s: the report fails at once, not at its deadline.
    app = make_app(simulator, upstream_rps=2, deadline=1.5)
    started = time.monotonic()
    answer = app.test_client().get("/geral")

    assert time.monotonic() - started < 1.5
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) >= 1
    body = answer.get_json()
    assert (body["error"], body["status"]) == ("upstream rate limit", 503)
    reason = "the upstream rate budget (STRACT_UPSTREAM_RPS) has no call free before the report"
    assert reason in body["detail"]
    assert simulator.stats()["total"] <= 1 + 2 * 1.5  # no call beyond the budget


@pytest.mark.parametrize("shared", [True, False])
def test_a_429_holds_every_process_until_its_retry_after(
    redis_server: RedisServer, hostile: Callable[..., HostileUpstream], shared: bool
) -> None:
    limited: list[float] = []

    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "fields" and call.query["platform"] == "ga4" and not limited:
            limited.append(time.monotonic())
            return json_reply({"error": "slow down"}, 429, **{"Retry-After": "2"})
        return None

    upstream = hostile(tamper)
    env = {"STRACT_SHARED_URL": redis_server.url if shared else ""}
    with _fleet(upstream.url, 2, env) as (told, other), ThreadPoolExecutor(2) as pool:
        first = pool.submit(_get, f"{told.base}/ga4.csv")
        _until(lambda: bool(limited))
        if shared:  # the told process has passed the back-off on
            with redis_server.client() as redis:
                _until(lambda: any(key.endswith(b":pause") for key in redis.scan_iter("*")))
        else:
            time.sleep(0.3)
        second = pool.submit(_get, f"{other.base}/meta_ads.csv")
        answers = [first.result(30), second.result(30)]

    assert [(a.status_code, a.content) for a in answers] == [
        (200, golden("ga4")),
        (200, golden("meta_ads")),
    ]
    # The other process's calls: the platform list (the told one read it before the 429) and
    # Meta Ads' (calls the told process was already making when told are not counted).
    after = [
        t - limited[0]
        for endpoint, query, t in upstream.log
        if t > limited[0] and (endpoint == "platforms" or ("platform", "meta_ads") in query)
    ]
    assert len(after) >= 4
    if shared:  # nobody calls the upstream before the Retry-After has passed
        assert min(after) >= 2.0 - 0.1
    else:  # the other process knew nothing of it
        assert min(after) < 1.0


# -- the warm shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False])
def test_a_fresh_process_first_report_is_warm_with_the_shared_shape(
    redis_server: RedisServer, hostile: Callable[..., HostileUpstream], shared: bool
) -> None:
    slow = {"on": False}
    delay = 1.5  # the platform list's: room for a fresh process to open its connections

    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "platforms" and slow["on"]:
            reply = json_reply(call.honest)
            reply.delay = delay
            return reply
        return None

    upstream = hostile(tamper)
    env = {"STRACT_SHARED_URL": redis_server.url if shared else "", "STRACT_API_TOKEN": BEARER}
    with serve(upstream.url, env=env) as first:  # learns the shape, and stores it in Redis
        assert _get(f"{first.base}/geral.csv").content == GERAL
    with serve(upstream.url, env=env) as fresh:
        slow["on"] = True
        with upstream.lock:
            upstream.log.clear()
        answer = _get(f"{fresh.base}/geral.csv")

    assert (answer.status_code, answer.content) == (200, GERAL)
    asked = next(t for e, _, t in upstream.log if e == "platforms")
    after = [round(t - asked, 2) for e, _, t in upstream.log if e != "platforms"]
    assert len(after) == 29
    # Warm: every call was on its way before the platform list answered; cold: none was.
    if shared:
        assert max(after) < delay, after
    else:
        assert min(after) >= delay, after
    with redis_server.client() as redis:
        stored = {key: (redis.get(key), redis.pttl(key)) for key in redis.scan_iter("*")}
    assert len(stored) == (1 if shared else 0)  # the shape; no read left anything behind
    for key, (value, ttl) in stored.items():
        assert key.endswith(b":shape")
        assert BEARER.encode() not in key + value  # never the bearer token
        assert 0 < ttl <= 300_000


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "timed out waiting"
        time.sleep(0.02)
