"""13. Memory bounded per process, on serve's defaults (STRACT_MEMORY_BUDGET, STRACT_MAX_ROWS):
16 identical and 16 distinct requests of a 300,000-row report at once, each against one alone;
and what the process keeps after a read that fails past STRACT_MAX_ROWS."""

from __future__ import annotations

import time
from collections import Counter

from harness import BenchError, Out, Server, burst, serve, simulator
from stract_reports.config import Settings

TITLE = "13. Memory: 16 identical and 16 distinct requests of one large report; a failed read"
MB = 1024 * 1024
INSTANCE_MB = 512  # the instance the default budget is meant to fit
REPORT = "/geral.json"
# 16 distinct slices of the same report: each filters and sorts its own way.
DISTINCT = [f"{REPORT}?Clicks__gte={n}&_sort_desc=Spend" for n in range(16)]
SWEEP = 6.0  # seconds: a finished build is kept 5 s for late requests, then let go
AFTER = 2.0  # seconds after a failed read: the calls it abandoned end, memory is given back


def _peak_over(srv: Server, paths: list[str]) -> tuple[float, Counter[int], float]:
    """Send ``paths`` at once: the peak RSS (MB), the statuses, and the RSS once the build
    kept for late requests is let go."""
    samples = burst(srv.base, paths)
    peak = srv.peak_rss_mb()
    time.sleep(SWEEP)
    return peak, Counter(s.status for s in samples), srv.rss_mb()


def run(out: Out, quick: bool) -> None:
    """Each burst on a fresh server; the failed read on another."""
    accounts, ads = (10, 100) if quick else (100, 1000)
    rows = 3 * accounts * ads
    budget = Settings.memory_budget / MB
    with simulator("--synthetic", f"{accounts},{ads}") as sim:
        results = {}
        for name, paths in (
            ("one", [REPORT]),
            ("16 identical", [REPORT] * 16),
            ("16 distinct", DISTINCT),
        ):
            with serve(sim.api_url) as srv:
                idle = srv.rss_mb()
                peak, statuses, after = _peak_over(srv, paths)
            if set(statuses) - {200, 503}:
                raise BenchError(f"{name}: statuses {dict(statuses)}: only 200 and 503 are right")
            if name == "one" and statuses != Counter({200: 1}):
                raise BenchError(f"one {REPORT} alone answered {dict(statuses)}")
            results[name] = (idle, peak, statuses, after)
            out(
                f"{name} {REPORT} of {rows:,} rows: idle {idle:.0f} MB, peak {peak:.0f} MB, "
                f"{after:.0f} MB {SWEEP:.0f} s after; answers {dict(sorted(statuses.items()))}",
                "",
            )
    idle, one, _, _ = results["one"]
    for name in ("16 identical", "16 distinct"):
        _, peak, statuses, _ = results[name]
        out.goal(
            f"{name} {REPORT} at {rows:,} rows ({statuses[200]} × 200, {statuses[503]} × 503): "
            "server peak RSS",
            peak,
            f"≤ {INSTANCE_MB} MB",
            f"one alone {one:.0f} MB (× {peak / one:.1f}); budget {budget:.0f} MB",
        )
    huge_accounts = (Settings.max_rows // (3 * ads)) + 1 if not quick else 40
    env = {} if not quick else {"STRACT_MAX_ROWS": str(3 * 30 * ads)}
    with simulator("--synthetic", f"{huge_accounts},{ads}") as sim, serve(sim.api_url, env) as srv:
        idle, after = srv.rss_mb(), []
        for _ in range(3):
            (sample,) = burst(srv.base, ["/geral.csv"])
            if sample.status != 502:
                raise BenchError(f"a read past STRACT_MAX_ROWS answered {sample.status}, not 502")
            time.sleep(AFTER)
            after.append(srv.rss_mb())
        peak = srv.peak_rss_mb()
    out(
        f"/geral.csv of {3 * huge_accounts * ads:,} rows, past STRACT_MAX_ROWS, 3 times: 502 "
        f"in {sample.seconds:.1f} s; idle {idle:.0f} MB, peak {peak:.0f} MB, "
        f"{', '.join(f'{a:.0f}' for a in after)} MB {AFTER:.0f} s after each",
        "",
    )
    out.goal(
        "a read failed past STRACT_MAX_ROWS: what RSS keeps of its peak 2 s after",
        (after[0] - idle) / (peak - idle),
        "≤ 0.50",
        f"idle {idle:.0f} MB, peak {peak:.0f} MB, after {after[0]:.0f} MB",
    )
    out.goal(
        "3 reads failed past STRACT_MAX_ROWS: RSS after the third / after the first",
        after[-1] / after[0],
        "≤ 1.25",
        f"after the first {after[0]:.0f} MB",
    )
