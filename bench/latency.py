"""1. /geral at 200 ms per upstream call: cold and warm against the round trips they need, and
the sequential strategy (STRACT_CONCURRENCY=1) against the parallel one."""

from __future__ import annotations

import time
from statistics import median

import requests

from harness import Out, get, serve, session, simulator
from stract_reports.simulator import DEFAULT_TOKEN

TITLE = "1. /geral at 200 ms per upstream call"
# The real data's chain: the platform list -> page 1 of accounts and fields -> their other
# pages -> insights (one page each).
ROUND_TRIPS = 4


def round_trip(api_url: str) -> float:
    """Median seconds of one API call on a kept-alive connection: the latency and the rest."""
    walls, auth = [], {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with requests.Session() as http:
        for _ in range(6):
            start = time.perf_counter()
            http.get(f"{api_url}/platforms", headers=auth, timeout=10).raise_for_status()
            walls.append(time.perf_counter() - start)
    return median(walls[1:])  # the first one opens the connection


def run(out: Out, quick: bool) -> None:
    """Cold: the first /geral of a fresh server; warm: the two after it on that server."""
    cold, warm, sequential, calls = [], [], [], []
    with simulator(latency_ms=200) as sim:
        trip = round_trip(sim.api_url)
        for _ in range(1 if quick else 3):
            with serve(sim.api_url) as server, session() as http:
                sim.reset()
                cold.append(get(http, f"{server.base}/geral")[0])
                calls.append(sim.calls())
                warm += [get(http, f"{server.base}/geral")[0] for _ in range(2)]
            with serve(sim.api_url, {"STRACT_CONCURRENCY": "1"}) as server, session() as http:
                sequential.append(get(http, f"{server.base}/geral")[0])
    cold_s, warm_s, seq_s, ms = median(cold), median(warm), median(sequential), trip * 1000
    out(
        f"One upstream call: {ms:.1f} ms. /geral: {median(calls):g} calls; cold {cold_s:.3f} s,"
        f" warm {warm_s:.3f} s, cold with STRACT_CONCURRENCY=1 {seq_s:.3f} s (medians over"
        f" {len(cold)} fresh servers).",
        "",
    )
    path = f"{ROUND_TRIPS} × {ms:.0f} ms"
    out.goal(
        "cold /geral at 200 ms / dependent round trips", cold_s / trip / ROUND_TRIPS, "≤ 1.05", path
    )
    out.goal("warm /geral at 200 ms / one round trip", warm_s / trip, "≤ 1.30", f"{ms:.0f} ms")
    out.goal(
        "cold /geral at 200 ms: STRACT_CONCURRENCY=1 / default",
        seq_s / cold_s,
        "≥ 5.0×",
        f"default {cold_s:.2f} s",
    )
