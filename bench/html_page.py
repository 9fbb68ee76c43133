"""6. The first page of /geral.html at 300,000 rows, asked for as a browser does."""

from __future__ import annotations

import time
from statistics import median

from harness import TIMEOUT, BenchError, Out, serve, session, simulator
from scale import PATIENT

TITLE = "6. /geral.html first page at 300,000 rows"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Encoding": "gzip, br"}


def run(out: Out, quick: bool) -> None:
    """Up to three requests (one if the first takes over 5 s): wall, server CPU, bytes sent."""
    accounts, ads = (10, 100) if quick else (100, 1000)
    walls, cpus = [], []
    with (
        simulator("--synthetic", f"{accounts},{ads}") as sim,
        serve(sim.api_url, PATIENT) as server,
        session() as http,
    ):
        while len(walls) < 3 and sum(walls) < 5:
            cpu, start = server.cpu(), time.perf_counter()
            url = f"{server.base}/geral.html"
            with http.get(url, headers=BROWSER, stream=True, timeout=TIMEOUT) as response:
                sent = len(response.raw.read(decode_content=False))
                encoding = response.headers.get("Content-Encoding", "none")
            walls.append(time.perf_counter() - start)
            cpus.append(server.cpu() - cpu)
            if response.status_code != 200:
                raise BenchError(f"/geral.html answered {response.status_code}")
    rows = f"{3 * accounts * ads:,} rows"
    out(
        f"{rows}: wall {median(walls):.2f} s, server CPU {median(cpus):.2f} s, {sent / 1000:,.0f}"
        f" kB sent (Content-Encoding: {encoding}); medians of {len(walls)}.",
        "",
    )
    out.goal(f"/geral.html at {rows}: server CPU", median(cpus), "≤ 1.00 s", "the report's rows")
    out.goal(f"/geral.html at {rows}: bytes sent", sent / 1000, "≤ 500 kB", "the report's rows")
