"""The retry policy as a value (no server, no clock): attempts, back-off with jitter, Retry-After
believed and capped, what another attempt may fix. And a client given its transport and backend
reads through them."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from stract_reports.config import Settings
from stract_reports.simulator import Simulator
from stract_reports.upstream import FetchLimits, StractClient, fetch_platforms
from stract_reports.upstream.fleet import LocalBackend
from stract_reports.upstream.retry import RetryPolicy
from stract_reports.upstream.transport import (
    Abandoned,
    BadEncoding,
    ConnectFailed,
    CutShort,
    Dropped,
    ExchangeError,
    TimedOut,
    TooLarge,
    Transport,
)
from support import closed_port_url

POLICY = RetryPolicy()
NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def test_the_policy_is_the_settings_and_a_frozen_value() -> None:
    settings = Settings(retries=5, backoff=0.2, backoff_max=1.0, retry_after_cap=2.0)
    policy = RetryPolicy.from_settings(settings)

    assert (policy.retries, policy.attempts) == (5, 6)
    assert (policy.backoff, policy.backoff_max, policy.retry_after_cap) == (0.2, 1.0, 2.0)
    assert RetryPolicy.from_settings(Settings()) == RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.retries = 0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.05, 0.15), (2, 0.1, 0.3), (3, 0.2, 0.6), (5, 0.8, 2.4), (6, 1.0, 3.0), (30, 1.0, 3.0)],
)
def test_the_back_off_doubles_up_to_its_maximum_with_jitter_either_way(
    attempt: int, low: float, high: float
) -> None:
    drawn: list[tuple[float, float]] = []

    def draw(lowest: float, highest: float) -> float:
        drawn.append((lowest, highest))
        return lowest if len(drawn) == 1 else highest

    assert POLICY.wait(attempt, None, draw) == pytest.approx(low)
    assert POLICY.wait(attempt, None, draw) == pytest.approx(high)
    assert drawn == [(0.5, 1.5)] * 2


@pytest.mark.parametrize(("retry_after", "wait"), [(0.0, 0.0), (1.5, 1.5), (5.0, 5.0), (5.1, None)])
def test_a_retry_after_is_waited_for_up_to_its_cap_and_no_longer(
    retry_after: float, wait: float | None
) -> None:
    assert POLICY.wait(1, retry_after) == wait
    assert POLICY.wait(3, retry_after) == wait  # whatever the attempt: the upstream said when


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("-5", 0.0),
        ("inf", 3600.0),
        ("1e400", 3600.0),
        ("nan", None),
        ("soon", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
        ("Fri, 32 Foo 2025 25:61:61 GMT", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_clamped(
    header: str | None, seconds: float | None
) -> None:
    assert POLICY.retry_after(header, now=NOW.timestamp) == seconds


@pytest.mark.parametrize(
    ("status", "retried"),
    [(429, True), (500, True), (502, True), (503, True), (599, True)]
    + [(400, False), (401, False), (403, False), (404, False), (301, False), (308, False)],
)
def test_only_rate_limits_and_server_errors_are_retried(status: int, retried: bool) -> None:
    assert POLICY.retries_status(status) is retried


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectFailed(), True),
        (Dropped(), True),
        (TimedOut(2.0), True),
        (CutShort(), True),
        (BadEncoding(), True),
        (TooLarge(1024), False),  # it would come back as large
        (Abandoned(), False),  # nobody waits for it
    ],
)
def test_failed_exchanges_are_retried_when_another_attempt_may_fix_them(
    error: ExchangeError, retried: bool
) -> None:
    assert POLICY.retries_exchange(error) is retried


def test_a_client_reads_through_the_transport_and_backend_it_is_given(
    simulator: Simulator,
) -> None:
    # The settings point nowhere: only the given transport reaches the simulator.
    settings = Settings(api_url=closed_port_url())
    transport = Transport(simulator.url, connect_timeout=1.0, max_body_bytes=2**20, pool=2)
    backend = LocalBackend(settings)
    backend.back_off(0.5)  # its budget holds every call for half a second
    started = time.monotonic()
    with StractClient(settings, transport=transport, backend=backend) as client:
        platforms = fetch_platforms(client, FetchLimits.from_settings(settings))
        assert client.where("platforms") == f"{simulator.url}/platforms"

    assert [p.value for p in platforms] == ["meta_ads", "ga4", "tiktok_insights"]
    assert time.monotonic() - started >= 0.5
    assert simulator.stats()["requests"]["platforms"] == 1
