"""Warm reports by speculation: the remembered calls go out at once, and the report is still
byte for byte what a cold read gives, whatever changed upstream in between.

Each case changes the hostile upstream's data between two reports, then compares the warm
report with a cold read (speculation off) of the same data, and counts the calls both made.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hostile import Call, HostileUpstream, Reply, json_reply
from stract_reports.simulator import Dataset, real_dataset, synthetic_dataset
from stract_reports.simulator.dataset import SimAccount

Change = Callable[[Dataset], None]


def _platform(data: Dataset, value: str) -> Any:
    found = data.platform(value)
    assert found is not None
    return found


def _add_account(data: Dataset) -> None:
    meta = _platform(data, "meta_ads")
    model = meta.accounts[0]
    meta.accounts.insert(4, SimAccount("99", "Conta Nova", "f" * 32, model.insights))


def _rotate_token(data: Dataset) -> None:
    _platform(data, "meta_ads").accounts[2].token = "e" * 32


def _add_platform(data: Dataset) -> None:
    twin = copy.deepcopy(_platform(data, "tiktok_insights"))
    twin.value, twin.text = "x_ads", "X Ads"
    for account in twin.accounts:
        account.token = account.token[::-1]
    data.platforms.insert(1, twin)


def _set(platform: str, **sizes: int | None) -> Change:
    def change(data: Dataset) -> None:
        for name, size in sizes.items():
            setattr(_platform(data, platform), name, size)

    return change


CHANGES: dict[str, Change] = {
    "nothing": lambda data: None,
    "account added": _add_account,
    "account removed": lambda data: _platform(data, "meta_ads").accounts.pop(3) and None,
    "accounts reordered": lambda data: _platform(data, "meta_ads").accounts.reverse(),
    "token rotated": _rotate_token,
    "field added": lambda data: _platform(data, "ga4").fields.append(
        {"text": "Extra", "value": "extra"}
    ),
    "field removed": lambda data: _platform(data, "ga4").fields.pop(1) and None,
    "fields reordered": lambda data: _platform(data, "meta_ads").fields.reverse(),
    "more account pages": _set("meta_ads", accounts_page_size=2),
    "fewer account pages": _set("meta_ads", accounts_page_size=20),
    "fields paginated": _set("tiktok_insights", fields_page_size=3),
    "platform added": _add_platform,
    "platform removed": lambda data: data.platforms.pop(1) and None,
    "platforms reordered": lambda data: data.platforms.reverse(),
}


def calls_of(upstream: HostileUpstream) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """The calls received since the log was last cleared, then clear it."""
    with upstream.lock:
        calls = [(endpoint, query) for endpoint, query, _ in upstream.log]
        upstream.log.clear()
    return calls


@pytest.mark.parametrize("change", CHANGES)
# CSV: the same bytes for the same data (JSON and HTML carry the time they were made).
@pytest.mark.parametrize("path", ["/geral.csv", "/meta_ads/resumo.csv", "/ga4.csv"])
def test_a_warm_report_is_a_cold_read_byte_for_byte_whatever_changed(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    change: str,
    path: str,
) -> None:
    upstream = make_hostile(dataset=real_dataset())
    warm = make_app(upstream)
    assert warm.test_client().get(path).status_code == 200  # the shape is remembered
    remembered = set(calls_of(upstream))

    CHANGES[change](upstream.dataset)
    cold = make_app(upstream, speculate=False).test_client().get(path)
    cold_calls = calls_of(upstream)
    answer = warm.test_client().get(path)
    warm_calls = calls_of(upstream)

    assert (answer.status_code, answer.data) == (cold.status_code, cold.data)
    assert cold.status_code in (200, 404)
    stale = remembered - set(cold_calls)
    assert len(warm_calls) - len(cold_calls) <= len(stale)
    assert sorted(set(warm_calls) - set(cold_calls)) == sorted(stale & set(warm_calls))
    if change == "nothing":
        assert sorted(warm_calls) == sorted(cold_calls)


def test_remembered_calls_go_out_before_the_platform_list_answers(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    slow = {"on": False}

    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "platforms" and slow["on"]:
            reply = json_reply(call.honest)
            reply.delay = 0.5
            return reply
        return None

    upstream = make_hostile(tamper)
    warm = make_app(upstream)
    cold = make_app(upstream, speculate=False)
    first = warm.test_client().get("/geral.csv")
    slow["on"] = True

    arrivals = {}
    for name, app in (("warm", warm), ("cold", cold)):
        upstream.log.clear()
        assert app.test_client().get("/geral.csv").data == first.data
        answered = next(t for e, _, t in upstream.log if e == "platforms") + 0.5
        arrivals[name] = [t < answered for e, _, t in upstream.log if e != "platforms"]

    assert len(arrivals["warm"]) == len(arrivals["cold"]) == 29
    assert all(arrivals["warm"])  # one round trip: everything was already on its way
    assert not any(arrivals["cold"])


def test_a_failed_report_is_not_remembered_and_a_confirmed_failure_still_fails(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    broken = {"on": False}

    def tamper(call: Call) -> Reply | None:
        if broken["on"] and call.endpoint == "insights" and call.query["account"] == "2":
            return json_reply({"error": "invalid request"})
        return None

    upstream = make_hostile(tamper)
    app = make_app(upstream)
    first = app.test_client().get("/tiktok_insights.csv")
    broken["on"] = True

    failed = app.test_client().get("/tiktok_insights.csv")
    broken["on"] = False
    again = app.test_client().get("/tiktok_insights.csv")

    assert first.status_code == 200
    assert failed.status_code == 502
    assert failed.get_json()["detail"].startswith("insights of TikTok account 'Duda Lisboa': ")
    assert (again.status_code, again.data) == (200, first.data)


# -- a stale or huge shape is a hint: bounded, and dropped at the first sign it changed ----------


def _quiet(upstream: HostileUpstream) -> HostileUpstream:
    """The upstream once no call has arrived for a while (calls already on their way when a
    report failed still arrive after its answer)."""
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 0.3:
        with upstream.lock:
            now = len(upstream.log)
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        time.sleep(0.02)
    return upstream


WINDOW = 8  # STRACT_CONCURRENCY of these tests: the calls handed out at once


def _shrunk_to_the_real_accounts(data: Dataset) -> None:
    data.platforms[:] = real_dataset().platforms  # other ids, tokens and page counts


def _shrunk_to_three_accounts(data: Dataset) -> None:
    for platform in data.platforms:
        del platform.accounts[3:]  # the same first three: their calls are still right


@pytest.mark.parametrize("shrink", [_shrunk_to_the_real_accounts, _shrunk_to_three_accounts])
def test_a_shape_of_hundreds_of_accounts_costs_a_window_beyond_the_cold_read_once_they_go(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    shrink: Change,
) -> None:
    upstream = make_hostile(dataset=synthetic_dataset(150, 1))
    warm = make_app(upstream, concurrency=WINDOW)
    assert warm.test_client().get("/geral.csv").status_code == 200
    remembered = len(calls_of(upstream))
    assert remembered > 450  # 150 accounts on each of three platforms

    shrink(upstream.dataset)
    cold = make_app(upstream, concurrency=WINDOW, speculate=False).test_client().get("/geral.csv")
    cold_calls = calls_of(upstream)
    answer = warm.test_client().get("/geral.csv")
    warm_calls = calls_of(upstream)

    assert cold.status_code == 200
    assert (answer.status_code, answer.data) == (200, cold.data)
    assert len(warm_calls) <= len(cold_calls) + WINDOW, (len(warm_calls), len(cold_calls))


def test_a_report_that_keeps_failing_never_sends_its_whole_stale_shape(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    broken = {"on": False}

    def tamper(call: Call) -> Reply | None:
        if broken["on"] and call.endpoint == "insights":
            return json_reply({"error": "invalid request"})
        return None

    upstream = make_hostile(tamper, dataset=synthetic_dataset(150, 1))
    app = make_app(upstream, concurrency=WINDOW)
    assert app.test_client().get("/geral.csv").status_code == 200  # 450 insights remembered
    calls_of(upstream)
    _shrunk_to_the_real_accounts(upstream.dataset)
    cold = make_app(upstream, concurrency=WINDOW, speculate=False).test_client()
    assert cold.get("/geral.csv").status_code == 200
    lists = sum(1 for endpoint, _ in calls_of(upstream) if endpoint != "insights")
    broken["on"] = True

    for _ in range(3):  # failed reports are not remembered: the old shape stays
        assert app.test_client().get("/geral.csv").status_code == 502
        sent = calls_of(_quiet(upstream))  # calls sent just before the failure arrive late
        # What a cold read sends before its first insights call fails (the lists, then a
        # window of insights calls), and at most a window of remembered calls: not 450.
        assert len(sent) <= lists + WINDOW + WINDOW, len(sent)
