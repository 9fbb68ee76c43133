"""No token leaks, no smuggled upstream parameters, safe headers, loopback by default."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from flask import Flask

from stract_reports import cli
from stract_reports.config import Settings
from stract_reports.simulator import DEFAULT_TOKEN, FAULT_KINDS, FaultRule, Simulator
from support import REPORTS, closed_port_url, serving

ENDPOINTS = ["/", "/healthz", "/readyz"] + [
    f"/{report}{suffix}" for report in REPORTS for suffix in ("", ".csv", ".json", ".html")
]
WRONG_TOKEN = "wrong-bearer-token-7c1e9b"
PAGINATION_FAULTS = ("no-total", "zero-total", "text-total")
RETRYABLE_FAULTS = ("429", "500", "502", "503", "drop", "truncate", "malformed", "slow")
BODY_FAULTS = ("huge-body", "gzip-bomb")


def _rule(kind: str, **options: Any) -> FaultRule:
    # Short waits keep the suite fast; `slow` outlasts the 0.15 s timeout set below.
    return FaultRule(kind, retry_after=0.01, delay=0.5, **options)


# Scenario name -> (faults, settings overrides). Pagination faults hit the account lists (which
# carry every account token); the others hit insights (whose URLs carry one).
SCENARIOS: dict[str, tuple[list[FaultRule], dict[str, Any]]] = {
    "no fault": ([], {}),
    "wrong bearer token": ([], {"api_token": WRONG_TOKEN}),
    "upstream refused": ([], {}),
    **{
        f"{kind} always": (
            [_rule(kind, match="/accounts" if kind in PAGINATION_FAULTS else "/insights")],
            # A body past the cap fails alike at 1 MiB, without inflating 64 MiB per call.
            {"max_body_bytes": 1 << 20} if kind in BODY_FAULTS else {},
        )
        for kind in FAULT_KINDS
    },
    **{f"{kind} once": ([_rule(kind, first=1)], {}) for kind in RETRYABLE_FAULTS},
}


def known_tokens(sim: Simulator) -> list[str]:
    """The bearer token, a wrong one we may configure, and every account token served."""
    accounts = [a.token for p in sim.dataset.platforms for a in p.accounts]
    assert len(accounts) == 19
    return [DEFAULT_TOKEN, WRONG_TOKEN, *accounts]


def exchange(url: str) -> str:
    """One real HTTP request; its status line, headers and body as one text."""
    response = requests.get(url, timeout=10)
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{url} {response.status_code}\n{headers}\n{response.content.decode('utf-8', 'replace')}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_token_in_any_response_or_log(
    make_simulator: Callable[..., Simulator],
    make_app: Callable[..., Flask],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    scenario: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    faults, overrides = SCENARIOS[scenario]
    sim = make_simulator(faults=faults)
    refused = scenario == "upstream refused"
    upstream: Any = SimpleNamespace(url=closed_port_url()) if refused else sim
    app = make_app(upstream, timeout=0.15, retries=1, **overrides)

    with serving(app) as base, ThreadPoolExecutor(len(ENDPOINTS)) as pool:
        exchanges = list(pool.map(exchange, [base + path for path in ENDPOINTS]))

    if scenario == "no fault":
        assert all(" 200\n" in text for text in exchanges)
    logs = "\n".join(
        [caplog.text]
        + [record.getMessage() for record in caplog.records]
        + [str(record.exc_text or "") for record in caplog.records]
    )
    assert "stract_reports.upstream" in logs  # the upstream client's debug log was captured
    if scenario == "no fault":
        assert "token=***" in logs  # ... including insight URLs, redacted
    out, err = capfd.readouterr()
    everything = {"responses": "\n".join(exchanges), "logs": logs, "stdout": out, "stderr": err}
    leaks = [
        (where, token)
        for where, text in everything.items()
        for token in known_tokens(sim)
        if token in text
    ]
    assert leaks == []
    assert "Traceback" not in everything["responses"]


@pytest.mark.parametrize(
    "path",
    [
        "/meta_ads&account=1",
        "/meta_ads%26account%3D1",
        "/meta_ads%26account%3D1.csv",
        "/meta_ads%3Faccount%3D1",
        "/meta_ads&account=1&token=x/resumo",
    ],
)
def test_parameters_smuggled_in_the_path_are_404_and_never_reach_the_upstream(
    client: Any, simulator: Simulator, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "unknown platform"
    assert body["detail"].endswith("valid platforms: meta_ads, ga4, tiktok_insights")
    assert simulator.stats()["requests"] == {
        "platforms": 1,
        "accounts": 0,
        "fields": 0,
        "insights": 0,
    }


def test_query_parameters_are_not_passed_to_the_upstream(client: Any, simulator: Simulator) -> None:
    client.get("/meta_ads")
    plain = simulator.stats()["requests"]
    simulator.reset()

    response = client.get("/meta_ads?platform=ga4&account=1&page=9&token=x&fields=id")

    # Not options of ours and (but for Platform) not columns: refused, after the same reads.
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("filter: no column 'account'")
    assert simulator.stats()["requests"] == plain


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/meta_ads", 200),
        ("/geral.json", 200),
        ("/ga4.html", 200),
        ("/healthz", 200),
        ("/nope", 404),
        ("/geral/x/y", 404),
        ("/ga4/resumo", 502),
    ],
)
def test_responses_forbid_content_sniffing(
    make_app: Callable[..., Flask], simulator: Simulator, path: str, status: int
) -> None:
    if status == 502:
        simulator.faults = [FaultRule("500")]
    response = make_app(simulator, retries=0).test_client().get(path)

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_servers_bind_loopback_by_default() -> None:
    (host,) = [param for param in cli.simulator.params if param.name == "host"]

    assert host.default == "127.0.0.1"
    assert Settings.from_env({}).host == "127.0.0.1"  # serve's --host, STRACT_HOST


def test_an_upstream_error_that_echoes_our_token_is_redacted(
    make_app: Callable[..., Flask], status_upstream: Callable[..., Any]
) -> None:
    echo = f'{{"error": "token {DEFAULT_TOKEN} is not valid here"}}'.encode()
    upstream = status_upstream(200, echo)
    app = make_app(SimpleNamespace(url=upstream.url))

    response = app.test_client().get("/geral")

    assert response.status_code == 502
    assert response.get_json()["detail"] == (
        'platform list: upstream answered error "token *** is not valid here" '
        f"({upstream.url}/platforms)"
    )
