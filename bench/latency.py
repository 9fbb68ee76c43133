"""1. /geral at 200 ms per upstream call: cold and warm against the round trips they need, and
the sequential strategy (STRACT_CONCURRENCY=1) against the parallel one."""

from __future__ import annotations

import time
from statistics import median

import requests

from harness import Out, get, serve, session, simulator
from stract_reports.simulator import DEFAULT_TOKEN, real_dataset

TITLE = "1. /geral at 200 ms per upstream call"


def round_trip(api_url: str) -> float:
    """Median seconds of one API call on a kept-alive connection: the latency and the rest."""
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {DEFAULT_TOKEN}"
        walls = []
        for _ in range(6):
            start = time.perf_counter()
            http.get(f"{api_url}/platforms", timeout=10).raise_for_status()
            walls.append(time.perf_counter() - start)
    return median(walls[1:])  # the first one opens the connection


def dependent_calls() -> int:
    """How many calls of /geral must follow one another: the platform list, then the longest
    platform chain (page 1 of fields and accounts, their other pages, insights, other pages)."""

    def pages(count: int, size: int | None) -> int:
        return 1 if size is None else -(-count // size)

    chains = [
        2
        + (
            max(
                pages(len(p.fields), p.fields_page_size),
                pages(len(p.accounts), p.accounts_page_size),
            )
            > 1
        )
        + any(pages(len(p.insight_rows(a)), p.insights_page_size) > 1 for a in p.accounts)
        for p in real_dataset().platforms
    ]
    return 1 + max(chains)


def run(out: Out, quick: bool) -> None:
    """Cold: the first /geral of a fresh server; warm: the two after it on that server."""
    repeat = 1 if quick else 3
    cold, warm, sequential, calls = [], [], [], []
    with simulator(latency_ms=200) as sim:
        trip, trips = round_trip(sim.api_url), dependent_calls()
        for _ in range(repeat):
            with serve(sim.api_url) as server, session() as http:
                sim.reset()
                cold.append(get(http, f"{server.base}/geral")[0])
                calls.append(sim.calls())
                warm += [get(http, f"{server.base}/geral")[0] for _ in range(2)]
            with serve(sim.api_url, {"STRACT_CONCURRENCY": "1"}) as server, session() as http:
                sequential.append(get(http, f"{server.base}/geral")[0])
    out(
        f"One upstream call takes {trip * 1000:.1f} ms (median of 5); /geral makes"
        f" {median(calls):g} calls, {trips} of them one after another. Cold /geral"
        f" {median(cold):.3f} s, warm {median(warm):.3f} s, sequential cold"
        f" {median(sequential):.3f} s (medians over {repeat} fresh servers).",
        "",
    )
    path = f"{trips} × {trip * 1000:.0f} ms"
    out.goal(
        "cold /geral at 200 ms / dependent round trips", median(cold) / trips / trip, "≤ 1.05", path
    )
    out.goal(
        "warm /geral at 200 ms / one round trip",
        median(warm) / trip,
        "≤ 1.30",
        f"{trip * 1000:.0f} ms",
    )
    out.goal(
        "sequential / parallel cold /geral at 200 ms",
        median(sequential) / median(cold),
        "≥ 5.0×",
        "STRACT_CONCURRENCY=1",
    )
