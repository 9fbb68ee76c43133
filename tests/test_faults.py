"""Honest failure: every upstream fault ends in the right status, or in the exact report.

Each test drives the real simulator over loopback HTTP with injected faults; retry counts come
from the simulator's own counters, never from patched internals.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.test import TestResponse

from stract_reports.config import Settings
from stract_reports.errors import DeadlineExceeded
from stract_reports.simulator import FaultRule, Simulator
from stract_reports.upstream import StractClient
from support import closed_port_url, serving

RETRIES = Settings().retries
ATTEMPTS = RETRIES + 1
REPORTS = ["/geral", "/geral/resumo", "/meta_ads", "/ga4/resumo", "/tiktok_insights"]


def get(app: Flask, path: str) -> TestResponse:
    """One request through Flask's test client."""
    return app.test_client().get(path)


def problem(response: TestResponse) -> dict[str, Any]:
    """The JSON error body, checked for its shape: exactly error, detail, status."""
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["error", "detail", "status"]
    assert body["status"] == response.status_code
    assert "Traceback" not in body["detail"]
    return body


def inject(sim: Simulator, *rules: FaultRule) -> None:
    """Replace the simulator's faults and clear its counters (``first=N`` starts over)."""
    sim.faults = list(rules)
    sim.reset()


def fault_free(app: Flask, sim: Simulator, path: str = "/geral") -> tuple[bytes, int]:
    """The report's bytes without faults, and how many upstream calls it took."""
    sim.reset()
    response = get(app, path)
    assert response.status_code == 200
    return response.data, sim.stats()["total"]


@pytest.mark.parametrize(
    ("path", "platform"),
    [
        ("/nope", "nope"),
        ("/nope/resumo", "nope"),
        ("/nope.json", "nope"),
        ("/Meta_Ads/resumo.csv", "Meta_Ads"),
        ("/facebook", "facebook"),
    ],
)
def test_unknown_platform_is_404_naming_the_valid_ones(
    client: Any, simulator: Simulator, path: str, platform: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert problem(response) == {
        "error": "unknown platform",
        "detail": f"no platform {platform!r}; valid platforms: meta_ads, ga4, tiktok_insights",
        "status": 404,
    }
    assert simulator.stats()["total"] == 1


# -- recoverable faults: the report is the fault-free one, byte for byte ----------------------


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("429", first=1, retry_after=0.01),
        FaultRule("429", first=2, retry_after=0.01),
        FaultRule("500", first=1),
        FaultRule("500", first=2),
        FaultRule("502", first=1),
        FaultRule("503", first=2),
        FaultRule("drop", first=1),
        FaultRule("truncate", first=1),
        FaultRule("truncate", first=2),
        FaultRule("malformed", first=1),
        FaultRule("malformed", first=2),
    ],
    ids=lambda rule: f"{rule.kind}-first{rule.first}",
)
def test_transient_fault_is_retried_into_the_exact_report(
    make_app: Callable[..., Flask], simulator: Simulator, rule: FaultRule
) -> None:
    app = make_app(simulator)
    expected, calls = fault_free(app, simulator)
    inject(simulator, rule)

    response = get(app, "/geral")

    assert response.status_code == 200
    assert response.data == expected
    assert rule.first is not None
    # Every distinct upstream URL failed `first` times, then answered: nothing more, nothing less.
    assert simulator.stats()["faults"] == {rule.kind: calls * rule.first}
    assert simulator.stats()["total"] == calls * (rule.first + 1)


@pytest.mark.parametrize(
    ("kind", "match", "faulted"),
    [("slow", "/platforms", 1), ("stall", "/insights", 19)],  # 19 insights calls in /geral
)
def test_a_call_that_outlasts_the_timeout_once_is_retried_into_the_exact_report(
    make_app: Callable[..., Flask], simulator: Simulator, kind: str, match: str, faulted: int
) -> None:
    app = make_app(simulator, timeout=0.2)
    expected, calls = fault_free(app, simulator)
    inject(simulator, FaultRule(kind, match=match, first=1, delay=1.0))

    response = get(app, "/geral")

    assert (response.status_code, response.data) == (200, expected)
    assert simulator.stats()["faults"] == {kind: faulted}
    assert simulator.stats()["total"] == calls + faulted


def test_retry_after_is_honoured_before_retrying(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator)
    expected, _ = fault_free(app, simulator)
    inject(simulator, FaultRule("429", match="/platforms", first=1, retry_after=0.3))

    started = time.monotonic()
    response = get(app, "/geral")

    assert (response.status_code, response.data) == (200, expected)
    assert time.monotonic() - started >= 0.3
    assert simulator.stats()["requests"]["platforms"] == 2


# -- rate limits that outlast the budget: 503 with Retry-After --------------------------------


def test_rate_limit_forever_is_503_with_retry_after_in_bounded_time(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator)
    inject(simulator, FaultRule("429", retry_after=0.05))

    started = time.monotonic()
    response = get(app, "/geral")

    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert problem(response) == {
        "error": "upstream rate limit",
        "detail": f"platform list: rate limited (HTTP 429) ({simulator.url}/platforms)",
        "status": 503,
    }
    assert simulator.stats()["requests"]["platforms"] == ATTEMPTS


@pytest.mark.parametrize(
    ("retry_after", "cap", "header"),
    [(30.0, None, "30"), (0.5, 0.1, "1"), (2.5, 1.0, "3")],
)
def test_retry_after_beyond_the_cap_is_503_at_once(
    make_app: Callable[..., Flask],
    simulator: Simulator,
    retry_after: float,
    cap: float | None,
    header: str,
) -> None:
    app = make_app(simulator, **({} if cap is None else {"retry_after_cap": cap}))
    inject(simulator, FaultRule("429", retry_after=retry_after))

    started = time.monotonic()
    response = get(app, "/meta_ads")

    assert time.monotonic() - started < min(retry_after, 0.4)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == header
    assert problem(response)["error"] == "upstream rate limit"
    assert simulator.stats()["requests"]["platforms"] == 1


# -- faults that outlast the retries: the right status, naming the call -----------------------


@pytest.mark.parametrize(
    ("rule", "status", "error", "detail", "attempts"),
    [
        (FaultRule("500"), 502, "upstream unavailable", "platform list: HTTP 500", ATTEMPTS),
        (FaultRule("502"), 502, "upstream unavailable", "platform list: HTTP 502", ATTEMPTS),
        (FaultRule("503"), 502, "upstream unavailable", "platform list: HTTP 503", ATTEMPTS),
        (
            FaultRule("drop"),
            502,
            "upstream unavailable",
            "platform list: connection dropped",
            ATTEMPTS,
        ),
        (
            FaultRule("truncate"),
            502,
            "invalid upstream payload",
            "platform list: response body cut short",
            ATTEMPTS,
        ),
        (
            FaultRule("malformed"),
            502,
            "invalid upstream payload",
            "platform list: response is not valid JSON",
            ATTEMPTS,
        ),
        (
            FaultRule("error"),
            502,
            "upstream rejected the request",
            'platform list: upstream answered error "invalid request"',
            1,
        ),
        (
            FaultRule("401"),
            502,
            "upstream refused the configured token",
            "platform list: the configured API token was refused (HTTP 401)",
            1,
        ),
    ],
    ids=lambda value: value.kind if isinstance(value, FaultRule) else None,
)
def test_persistent_fault_has_its_status_and_names_the_call(
    make_app: Callable[..., Flask],
    simulator: Simulator,
    rule: FaultRule,
    status: int,
    error: str,
    detail: str,
    attempts: int,
) -> None:
    app = make_app(simulator)
    inject(simulator, rule)

    response = get(app, "/geral")

    assert response.status_code == status
    assert problem(response) == {
        "error": error,
        "detail": f"{detail} ({simulator.url}/platforms)",
        "status": status,
    }
    assert "Retry-After" not in response.headers
    assert simulator.stats()["requests"]["platforms"] == attempts


@pytest.mark.parametrize(
    ("path", "endpoint", "call"),
    [
        ("/geral", "platforms", "platform list"),
        ("/ga4", "fields", "fields of Google Analytics"),
        ("/tiktok_insights", "accounts", "accounts of TikTok"),
        ("/tiktok_insights/resumo", "insights", "insights of TikTok account 'Duda Lisboa'"),
    ],
)
def test_error_body_in_a_200_is_502_and_not_retried(
    make_app: Callable[..., Flask], simulator: Simulator, path: str, endpoint: str, call: str
) -> None:
    app = make_app(simulator)
    match = "account=2&" if endpoint == "insights" else f"/{endpoint}"
    inject(simulator, FaultRule("error", match=match))

    response = get(app, path)

    assert response.status_code == 502
    assert problem(response) == {
        "error": "upstream rejected the request",
        "detail": f'{call}: upstream answered error "invalid request" ({simulator.url}/{endpoint})',
        "status": 502,
    }
    assert simulator.stats()["faults"] == {"error": 1}


def test_server_errors_on_one_account_fail_its_reports_only(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator)
    inject(simulator, FaultRule("500", match="platform=meta_ads&account=3&"))

    for path in ("/meta_ads", "/meta_ads/resumo.json", "/geral"):
        response = get(app, path)
        assert response.status_code == 502
        assert problem(response) == {
            "error": "upstream unavailable",
            "detail": "insights of Facebook Ads account 'Ronaldão': HTTP 500 "
            f"({simulator.url}/insights)",
            "status": 502,
        }
    for path in ("/ga4", "/tiktok_insights", "/ga4/resumo"):
        assert get(app, path).status_code == 200
    assert simulator.stats()["faults"] == {"500": 3 * ATTEMPTS}


def test_wrong_bearer_token_is_502_saying_the_configured_token_was_refused(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator, api_token="not-the-right-token-4f2a")

    response = get(app, "/meta_ads")

    assert response.status_code == 502
    assert problem(response) == {
        "error": "upstream refused the configured token",
        "detail": "platform list: the configured API token was refused (HTTP 401) "
        f"({simulator.url}/platforms)",
        "status": 502,
    }
    assert b"not-the-right-token" not in response.data
    assert simulator.stats()["total"] == 1


@pytest.mark.parametrize("path", REPORTS + ["/meta_ads.json"])
def test_unreachable_upstream_is_502(make_app: Callable[..., Flask], path: str) -> None:
    url = closed_port_url()
    app = make_app(SimpleNamespace(url=url))

    response = get(app, path)

    assert response.status_code == 502
    assert problem(response) == {
        "error": "upstream unavailable",
        "detail": f"platform list: connection failed ({url}/platforms)",
        "status": 502,
    }


@pytest.mark.parametrize("status", [400, 404, 405, 409, 410, 422])
def test_other_4xx_is_502_and_not_retried(
    make_app: Callable[..., Flask], status_upstream: Callable[[int], Any], status: int
) -> None:
    upstream = status_upstream(status)
    app = make_app(upstream)

    response = get(app, "/geral")

    assert response.status_code == 502
    assert problem(response) == {
        "error": "upstream rejected the request",
        "detail": f"platform list: HTTP {status} ({upstream.url}/platforms)",
        "status": 502,
    }
    assert upstream.server.calls == 1


def test_forbidden_is_token_refused_and_not_retried(
    make_app: Callable[..., Flask], status_upstream: Callable[[int], Any]
) -> None:
    upstream = status_upstream(403)
    app = make_app(upstream)

    response = get(app, "/ga4")

    assert response.status_code == 502
    assert problem(response)["error"] == "upstream refused the configured token"
    assert upstream.server.calls == 1


# -- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shown"),
    [("no-total", "None"), ("zero-total", None), ("text-total", "'many'")],
)
@pytest.mark.parametrize(
    ("path", "match", "call"),
    [
        ("/meta_ads", "/accounts", "accounts of Facebook Ads"),
        ("/meta_ads/resumo", "/fields", "fields of Facebook Ads"),
        ("/ga4", "/accounts", "accounts of Google Analytics"),
    ],
)
def test_bad_pagination_total_is_502(
    make_app: Callable[..., Flask],
    simulator: Simulator,
    kind: str,
    shown: str | None,
    path: str,
    match: str,
    call: str,
) -> None:
    app = make_app(simulator)
    inject(simulator, FaultRule(kind, match=match))

    response = get(app, path)

    assert response.status_code == 502
    body = problem(response)
    assert body["error"] == "invalid upstream payload"
    where = f"{simulator.url}{match}"
    if shown is None:
        assert body["detail"] == f"{call}: pagination total is 0 but the page has items ({where})"
    else:
        assert body["detail"] == f"{call}: pagination total is {shown}, not a page count ({where})"
    assert simulator.stats()["faults"] == {kind: 1}


@pytest.mark.parametrize(
    ("path", "requests_made"),
    [
        ("/meta_ads", {"platforms": 1, "accounts": 3, "fields": 2, "insights": 11}),
        ("/ga4", {"platforms": 1, "accounts": 2, "fields": 1, "insights": 6}),
        ("/tiktok_insights", {"platforms": 1, "accounts": 1, "fields": 1, "insights": 2}),
        ("/geral", {"platforms": 1, "accounts": 6, "fields": 4, "insights": 19}),
    ],
)
def test_every_page_is_read_once_and_none_beyond_the_total(
    client: Any, simulator: Simulator, path: str, requests_made: dict[str, int]
) -> None:
    assert client.get(path).status_code == 200
    assert simulator.stats()["requests"] == requests_made


def test_paginated_insights_are_read_to_the_last_page_only(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    from stract_reports.simulator import synthetic_dataset

    # 10 ads per account, 4 per page: pages of 4, 4, 2, and no fourth page.
    sim = make_simulator(synthetic_dataset(3, 10, insights_page_size=4))
    app = make_app(sim)

    response = get(app, "/tiktok_insights.json")

    assert response.status_code == 200
    assert response.get_json()["row_count"] == 30
    assert sim.stats()["requests"]["insights"] == 3 * 3


# -- time: per-call timeout and the report deadline are 504, on time ---------------------------


def test_read_timeout_is_504_after_bounded_retries(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator, timeout=0.1)
    inject(simulator, FaultRule("slow", match="/platforms", delay=2.0))

    started = time.monotonic()
    response = get(app, "/geral")

    assert time.monotonic() - started < ATTEMPTS * 0.1 + 0.5
    assert response.status_code == 504
    assert problem(response) == {
        "error": "upstream timed out",
        "detail": f"platform list: no answer within 0.1s ({simulator.url}/platforms)",
        "status": 504,
    }
    assert simulator.stats()["requests"]["platforms"] == ATTEMPTS


def test_a_body_that_stalls_past_the_timeout_is_504_not_502(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator, timeout=0.1)
    inject(simulator, FaultRule("stall", match="/platforms", delay=2.0))

    response = get(app, "/geral")

    assert response.status_code == 504
    assert problem(response)["detail"] == (
        f"platform list: no answer within 0.1s ({simulator.url}/platforms)"
    )
    assert simulator.stats()["requests"]["platforms"] == ATTEMPTS


@pytest.mark.parametrize(
    ("path", "labels"),
    [("/geral", "Facebook Ads|Google Analytics|TikTok"), ("/meta_ads/resumo", "Facebook Ads")],
)
def test_report_deadline_is_504_within_the_deadline(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask], path: str, labels: str
) -> None:
    # Each round of calls takes 0.15 s and a report needs four rounds: 0.4 s cannot suffice.
    sim = make_simulator(latency=0.15)
    app = make_app(sim, deadline=0.4)

    started = time.monotonic()
    response = get(app, path)

    assert time.monotonic() - started < 0.4 + 0.3
    assert response.status_code == 504
    body = problem(response)
    assert body["error"] == "report deadline exceeded"
    # Whichever call was still unanswered is named, with its platform.
    assert re.fullmatch(
        rf"(accounts|fields|insights) of ({labels})[^:]*: "
        r"the report deadline passed while waiting for this call( \(and \d+ more\))?",
        body["detail"],
    ), body["detail"]


def test_a_call_whose_deadline_passes_in_the_queue_says_so_as_the_report_does(
    make_simulator: Callable[..., Simulator],
) -> None:
    # One pool thread, held 0.6 s by a slow call: the next call waits in the queue past its
    # 0.2 s deadline. Whichever side notices first, the words are the report loop's.
    sim = make_simulator(faults=[FaultRule("slow", match="/accounts", delay=0.6)])
    settings = Settings(api_url=sim.url, concurrency=1, timeout=5.0)
    with StractClient(settings) as client:
        now = time.monotonic()
        slow = client.submit("accounts", {"platform": "ga4"}, call="slow", deadline=now + 5)
        queued = client.submit("platforms", {}, call="platform list", deadline=now + 0.2)
        assert queued.wait(5) and slow.wait(5)
        with pytest.raises(DeadlineExceeded) as caught:
            queued.result()

    assert caught.value.detail == (
        "platform list: the report deadline passed while waiting for this call"
    )
    assert sim.stats()["requests"]["platforms"] == 0  # never sent


def test_slow_call_is_cut_at_the_report_deadline(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator, timeout=5.0, deadline=0.3)
    inject(simulator, FaultRule("slow", match="/platforms", delay=2.0))

    started = time.monotonic()
    response = get(app, "/geral")

    assert time.monotonic() - started < 0.3 + 0.3
    assert response.status_code == 504
    assert problem(response) == {
        "error": "report deadline exceeded",
        "detail": "platform list: the report deadline passed while waiting for this call",
        "status": 504,
    }


# -- single-flight and real time ----------------------------------------------------------------


def test_concurrent_identical_reports_share_upstream_reads(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    sim = make_simulator(latency=0.2)
    app = make_app(sim)
    clients = 20
    barrier = threading.Barrier(clients)

    def fetch(url: str) -> tuple[int, bytes]:
        barrier.wait()
        response = requests.get(url, timeout=10)
        return response.status_code, response.content

    with serving(app) as base:
        expected, calls = fault_free(app, sim)
        sim.reset()
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(fetch, [f"{base}/geral"] * clients))

    assert answers == [(200, expected)] * clients
    assert sim.stats()["total"] <= 1.5 * calls


@pytest.mark.parametrize(("cache_ttl", "fresh"), [(0.0, True), (60.0, False)])
def test_a_later_request_reads_the_upstream_again_unless_cached(
    make_app: Callable[..., Flask], simulator: Simulator, cache_ttl: float, fresh: bool
) -> None:
    app = make_app(simulator, cache_ttl=cache_ttl)
    expected, calls = fault_free(app, simulator)
    simulator.reset()

    response = get(app, "/geral")

    assert (response.status_code, response.data) == (200, expected)
    assert simulator.stats()["total"] == (calls if fresh else 0)


def test_a_failed_read_is_not_cached(make_app: Callable[..., Flask], simulator: Simulator) -> None:
    app = make_app(simulator, cache_ttl=60.0, retries=0)
    inject(simulator, FaultRule("500", match="/platforms", first=1))

    assert get(app, "/geral").status_code == 502
    assert get(app, "/geral").status_code == 200
    assert simulator.stats()["requests"]["platforms"] == 2


# -- health -------------------------------------------------------------------------------------


def test_healthz_answers_without_the_upstream(make_app: Callable[..., Flask]) -> None:
    app = make_app(SimpleNamespace(url=closed_port_url()))

    response = get(app, "/healthz")

    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_is_200_when_the_upstream_answers(client: Any) -> None:
    response = client.get("/readyz")

    assert (response.status_code, response.get_json()) == (
        200,
        {"status": "ready", "platforms": 3, "shared": "off", "store": "off"},
    )


@pytest.mark.parametrize(
    ("rule", "token", "error"),
    [
        (None, "wrong-token", "upstream refused the configured token"),
        (FaultRule("503"), None, "upstream unavailable"),
        (FaultRule("malformed"), None, "invalid upstream payload"),
    ],
)
def test_readyz_is_503_when_the_upstream_is_down(
    make_app: Callable[..., Flask],
    simulator: Simulator,
    rule: FaultRule | None,
    token: str | None,
    error: str,
) -> None:
    app = make_app(simulator, **({"api_token": token} if token else {}))
    inject(simulator, *([rule] if rule else []))

    response = get(app, "/readyz")

    assert response.status_code == 503
    assert problem(response)["error"] == "not ready"
    assert problem(response)["detail"].startswith(f"{error}: platform list")


# -- hostile faults: the simulator's attacks end in the right status, naming the call ----------

MAX_BODY = Settings().max_body_bytes


@pytest.mark.parametrize(
    ("kind", "status", "error", "reason"),
    [
        (
            "huge-total",
            502,
            "invalid upstream payload",
            "pagination total is 1000000000, more than the 10000 pages allowed (STRACT_MAX_PAGES)",
        ),
        (
            "huge-body",
            502,
            "invalid upstream payload",
            f"response body larger than {MAX_BODY} bytes (STRACT_MAX_BODY_BYTES)",
        ),
        (
            "gzip-bomb",
            502,
            "invalid upstream payload",
            f"response body larger than {MAX_BODY} bytes (STRACT_MAX_BODY_BYTES)",
        ),
        ("redirect", 502, "upstream rejected the request", "HTTP 302 redirect, not followed"),
        ("deep", 502, "invalid upstream payload", "response nests too deeply"),
        (
            "dup-keys",
            502,
            "invalid upstream payload",
            'response repeats the key "accounts" in one object',
        ),
        ("drip", 504, "upstream timed out", "no answer within 0.3s"),
    ],
)
def test_hostile_fault_has_its_status_and_names_the_call(
    make_app: Callable[..., Flask],
    simulator: Simulator,
    kind: str,
    status: int,
    error: str,
    reason: str,
) -> None:
    app = make_app(simulator, timeout=0.3, retries=1)
    inject(simulator, FaultRule(kind, match="/accounts", delay=0.05))

    started = time.monotonic()
    response = get(app, "/meta_ads")

    assert time.monotonic() - started < 10.0
    assert response.status_code == status
    assert problem(response) == {
        "error": error,
        "detail": f"accounts of Facebook Ads: {reason} ({simulator.url}/accounts)",
        "status": status,
    }
    # Only the transient kind is tried again.
    assert simulator.stats()["requests"]["accounts"] == (2 if kind == "drip" else 1)
