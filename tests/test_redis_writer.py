"""What a writer to the fleet's Redis without the API token can do, against a real Redis: its
back-off is bounded, its shape and bodies are ignored (they fail their seal), its garbage is
never blamed on the upstream, its locks are taken over, and a Redis that answers slowly is
left alone by a breaker that /readyz reports.

Each test reads the real data from the hostile upstream (``tests/hostile.py``) through report
apps that share one real ``redis-server``, then writes to that Redis as the attacker would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from hostile import HostileUpstream
from redisd import RedisServer
from slowlink import SlowLink
from stract_reports.upstream.fleet import RedisBackend
from stract_reports.upstream.fleet.budget import PAUSE_LOOK
from support import golden

pytestmark = pytest.mark.redis

BEARER = "a-bearer-token-only-these-servers-have"
GERAL = golden("geral")
HOUR = 3600
REFUSED = "fails its checks (not written by a server with this API token"
FLEET_LOG = "stract_reports.upstream.fleet"


@pytest.fixture
def upstream(make_hostile: Callable[..., HostileUpstream]) -> HostileUpstream:
    """The real data behind this test's own bearer token."""
    return make_hostile(token=BEARER)


@pytest.fixture
def fleet_app(
    make_app: Callable[..., Flask], upstream: HostileUpstream, redis_server: RedisServer
) -> Callable[..., Flask]:
    """Report apps of one fleet: the same token and Redis (settings overridden by keyword)."""

    def make(**overrides: Any) -> Flask:
        settings = {"api_token": BEARER, "shared_url": redis_server.url, **overrides}
        return make_app(upstream, **settings)

    return make


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client of the fleet's Redis: the attacker's."""
    with redis_server.client() as client:
        yield client


def _prefix(store: redis.Redis) -> bytes:
    """The fleet's key prefix, from the shape a good report stored."""
    (key,) = [key for key in store.scan_iter(b"*:shape")]
    return bytes(key).removesuffix(b"shape")


def _calls(upstream: HostileUpstream) -> int:
    return upstream.total()


# -- the rate budget's keys ----------------------------------------------------------------------


def test_a_back_off_without_expiry_holds_reports_an_hour_at_most_and_is_given_one(
    fleet_app: Callable[..., Flask], store: redis.Redis
) -> None:
    client = fleet_app().test_client()
    assert client.get("/geral").data == GERAL
    pause = _prefix(store) + b"{budget}:pause"
    seconds, micros = store.time()
    store.set(pause, str((seconds + 7 * 86400) * 10**6 + micros))  # a week, and no expiry
    time.sleep(PAUSE_LOOK + 0.05)  # past the time a process trusts there is no back-off

    answer = client.get("/geral")

    assert answer.status_code == 503
    assert HOUR - 10 <= int(answer.headers["Retry-After"]) <= HOUR
    assert 0 < store.pttl(pause) <= HOUR * 1000


@pytest.mark.parametrize("value", [b"soon", b"-1", b"1e999"])
def test_a_back_off_that_is_no_time_of_ours_holds_nothing(
    fleet_app: Callable[..., Flask], store: redis.Redis, value: bytes
) -> None:
    app = fleet_app(upstream_rps=1000)  # the next free slot is read and written too
    client = app.test_client()
    assert client.get("/geral").data == GERAL
    prefix = _prefix(store)
    for name in (b"{budget}:pause", b"{budget}:tat"):
        store.set(prefix + name, value)

    answer = client.get("/geral")
    ready = client.get("/readyz").get_json()

    assert (answer.status_code, answer.data) == (200, GERAL)
    assert ready["shared"] == "connected"  # garbage is not an outage
    assert (
        store.get(prefix + b"{budget}:pause") is None or store.pttl(prefix + b"{budget}:pause") > 0
    )


# -- the warm shape ------------------------------------------------------------------------------


def _token(i: int) -> str:
    """An account token as the upstream's look: 32 hex digits, no two alike from the start."""
    return hashlib.sha256(str(i).encode()).hexdigest()[:32]


def _shape_of(calls: int) -> bytes:
    """A shape of ``calls`` insights calls for accounts the upstream never had (``_dump``'s
    JSON: scope, then [endpoint, [[name, value], ...], call] per call)."""
    planned = [
        [
            "insights",
            [["platform", "meta_ads"], ["account", str(10_000 + i)], ["token", _token(i)]],
            f"insights of account {i}",
        ]
        for i in range(calls)
    ]
    return json.dumps([[None, planned]]).encode()


def test_a_shape_written_without_the_token_is_ignored(
    fleet_app: Callable[..., Flask],
    upstream: HostileUpstream,
    store: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=FLEET_LOG)  # whatever an earlier test set
    assert fleet_app().test_client().get("/geral").data == GERAL
    cold = _calls(upstream)
    store.set(_prefix(store) + b"shape", _shape_of(20_000))

    answer = fleet_app().test_client().get("/geral")  # a fresh process: no shape of its own

    assert (answer.status_code, answer.data) == (200, GERAL)
    assert _calls(upstream) - cold == cold  # a cold read: not one call from that shape
    assert REFUSED in caplog.text and "a warm shape" in caplog.text


def test_a_sealed_but_huge_shape_costs_a_window_beyond_the_cold_read(
    fleet_app: Callable[..., Flask],
    make_app: Callable[..., Flask],
    upstream: HostileUpstream,
    redis_server: RedisServer,
) -> None:
    window = 8
    app = fleet_app(concurrency=window)
    assert app.test_client().get("/geral").data == GERAL
    cold = _calls(upstream)
    # Written as a server with the token writes it (say, one that saw 20,000 accounts).
    from stract_reports.extensions import app_settings

    writer = RedisBackend(app_settings(app))
    writer.store_shape(_shape_of(20_000), 300)
    writer.close()

    answer = fleet_app(concurrency=window).test_client().get("/geral")

    assert (answer.status_code, answer.data) == (200, GERAL)
    assert _calls(upstream) - cold <= cold + window


# -- handed-over bodies --------------------------------------------------------------------------


EMPTY = b'{"platforms": [], "fields": [], "accounts": [], "insights": []}'


@pytest.mark.parametrize(
    "forged",
    [EMPTY, b"garbage", b"\x01" + b"\x00" * 40 + EMPTY],
    ids=["forged JSON", "garbage", "a seal of no key"],
)
def test_a_body_rewritten_in_redis_is_ignored_and_never_blamed_on_the_upstream(
    fleet_app: Callable[..., Flask],
    upstream: HostileUpstream,
    store: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    forged: bytes,
) -> None:
    caplog.set_level(logging.WARNING, logger=FLEET_LOG)
    reader, other = fleet_app(cache_ttl=60), fleet_app(cache_ttl=60)
    assert reader.test_client().get("/geral").data == GERAL
    kept = list(store.scan_iter(b"*:res:*"))
    assert kept  # the bodies the cache keeps for the fleet
    for key in kept:
        store.set(key, forged, px=60_000)
    before = _calls(upstream)

    answer = other.test_client().get("/geral")

    assert (answer.status_code, answer.data) == (200, GERAL)
    assert _calls(upstream) - before == before  # it read everything itself
    assert REFUSED in caplog.text and "an upstream body" in caplog.text


@pytest.mark.parametrize("holder", [b"not-one-of-ours", b"0123456789abcdef"])
def test_a_lock_without_expiry_is_taken_over_not_waited_for(
    fleet_app: Callable[..., Flask], store: redis.Redis, holder: bytes
) -> None:
    reader, other = fleet_app(cache_ttl=60), fleet_app(cache_ttl=60, deadline=4.0)
    assert reader.test_client().get("/geral").data == GERAL
    for last in list(store.scan_iter(b"*:last")):
        store.delete(last)
        store.set(bytes(last).removesuffix(b"last") + b"lock", holder)  # held for ever
    started = time.monotonic()

    answer = other.test_client().get("/geral")

    assert (answer.status_code, answer.data) == (200, GERAL)
    assert time.monotonic() - started < 3.0  # not held until the 4 s deadline


# -- a slow Redis --------------------------------------------------------------------------------


def test_readyz_reports_the_latency_of_a_redis_that_answers_in_time(
    fleet_app: Callable[..., Flask],
) -> None:
    client = fleet_app().test_client()
    assert client.get("/geral").data == GERAL

    ready = client.get("/readyz").get_json()

    assert ready["shared"] == "connected" and "shared_detail" not in ready
    assert 0 < ready["shared_latency_ms"] < 50


def test_a_slow_redis_is_left_alone_until_it_answers_in_time_and_readyz_says_so(
    make_app: Callable[..., Flask],
    upstream: HostileUpstream,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=FLEET_LOG)
    with SlowLink(redis_server.port) as link:
        retry = 3.0  # the report below ends well within it, however busy the machine
        app = make_app(upstream, api_token=BEARER, shared_url=link.url, shared_retry=retry)
        client = app.test_client()
        assert client.get("/geral").data == GERAL  # fast: shared as usual
        assert link.relayed > 0

        link.delay = 0.2
        assert client.get("/geral").data == GERAL  # slow: most calls slow trip the breaker
        ready = client.get("/readyz").get_json()
        relayed = link.relayed
        answer = client.get("/geral")

        assert (answer.status_code, answer.data) == (200, GERAL)
        assert link.relayed == relayed  # degraded: this process works on its own
        assert ready["status"] == "ready" and ready["shared"] == "degraded"
        assert ready["shared_latency_ms"] >= 150
        assert "answers too slowly" in ready["shared_detail"]

        link.delay = 0.0
        time.sleep(retry + 0.1)  # past the retry period: the next call probes Redis
        assert client.get("/geral").data == GERAL
        assert client.get("/readyz").get_json()["shared"] == "connected"
    lines = [r.getMessage() for r in caplog.records if "shared state at" in r.getMessage()]
    assert len(lines) == 2, "\n".join(lines)
    assert "answers slowly" in lines[0] and "answers again" in lines[1]
