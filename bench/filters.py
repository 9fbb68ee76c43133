"""12. Many filters: 165 filters cost what one does (one pass over the rows, in C)."""

from __future__ import annotations

from statistics import median
from urllib.parse import urlencode

from harness import Out, get, serve, session, simulator
from scale import PATIENT

TITLE = "12. Many filters on a 90,000-row report"
# A filter that holds for a third of the ads, once, and 165 times as a hostile client sends it:
# the same rows kept, the same CSV drawn, so only the filtering differs.
FILTER = ("Platform", "Facebook Ads")
MANY = 165


def run(out: Out, quick: bool) -> None:
    """The server's CPU for /geral.csv with the filter once and 165 times, the median of a few
    rounds."""
    accounts, ads, rounds = (10, 300, 3) if quick else (30, 1000, 5)
    cpu: dict[int, list[float]] = {1: [], MANY: []}
    with (
        simulator("--synthetic", f"{accounts},{ads}") as sim,
        serve(sim.api_url, PATIENT) as server,
        session() as http,
    ):
        for _ in range(rounds):
            for count in cpu:
                before = server.cpu()
                get(http, f"{server.base}/geral.csv?{urlencode([FILTER] * count)}")
                cpu[count].append(server.cpu() - before)
    one, many = median(cpu[1]), median(cpu[MANY])
    rows = f"{3 * accounts * ads:,} rows"
    out(f"{rows}: server CPU {one:.2f} s with 1 filter, {many:.2f} s with {MANY}.", "")
    out.goal(
        f"{rows}, {MANY} filters: server CPU / 1 filter's",
        many / one,
        "≤ 1.20",
        f"1 filter: {one:.2f} s",
    )
