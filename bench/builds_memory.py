"""7. Distinct large reports at once on serve's defaults: the STRACT_MAX_BUILDS cap holds the
server's memory, and what is beyond it is refused with 503 at once."""

from __future__ import annotations

import time
from collections import Counter

from harness import BenchError, Out, burst, serve, simulator
from scale import PATIENT
from stract_reports.config import Settings

TITLE = "7. Builds: 8 distinct 300,000-row reports at once, each asked twice"
# 8 distinct builds: each report of each platform, summary or not; both ratio modes of a report
# are cut from one shared build, so each build is asked for twice.
PATHS = [
    f"/{name}{summary}?ratios={ratios}"
    for name in ("geral", "meta_ads", "ga4", "tiktok_insights")
    for summary in ("", "/resumo")
    for ratios in ("recompute", "sum")
]
DISTINCT = len(PATHS) // 2


def run(out: Out, quick: bool) -> None:
    """Every path at once on a fresh server: its peak RSS, the answers and how soon."""
    accounts, ads = (10, 100) if quick else (100, 1000)
    with simulator("--synthetic", f"{accounts},{ads}") as sim, serve(sim.api_url, PATIENT) as srv:
        start = time.perf_counter()
        samples = burst(srv.base, PATHS)
        wall, rss = time.perf_counter() - start, srv.peak_rss_mb()
    statuses = Counter(s.status for s in samples)
    if set(statuses) - {200, 503}:
        raise BenchError(f"statuses {dict(statuses)}: only 200 and 503 are right")
    refused = [s.seconds for s in samples if s.status == 503]
    slowest = f"{max(refused):.2f} s" if refused else "—"
    rows = f"{3 * accounts * ads:,} rows"
    out(
        f"{len(PATHS)} requests for {DISTINCT} distinct reports of {rows} (/geral) at once: "
        f"{statuses[200]} answered 200,"
        f" {len(refused)} answered 503 (the slowest in {slowest}); all done in {wall:.1f} s.",
        "",
    )
    against = "no cap: 2.6 GB and 500s (issue 9)"
    out.goal(
        f"{DISTINCT} distinct reports at once, {rows}: server peak RSS", rss, "≤ 600 MB", against
    )
    cap = Settings.max_builds
    if cap < DISTINCT:  # with the default cap every report may build: nothing to refuse here
        name = f"{DISTINCT} distinct reports at once: 503s within 1 s"
        against = f"2 × ({DISTINCT} − STRACT_MAX_BUILDS {cap})"
        out.goal(name, sum(t <= 1 for t in refused), f"≥ {2 * (DISTINCT - cap)}", against)
