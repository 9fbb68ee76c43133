"""4. Coalescing on serve: simultaneous identical /geral cost about the upstream calls of one."""

from __future__ import annotations

from collections import Counter
from statistics import median

from harness import BenchError, Out, burst, get, serve, session, simulator

TITLE = "4. Coalescing: simultaneous identical /geral at 200 ms per call"


def run(out: Out, quick: bool) -> None:
    """After a warm-up: one request alone, then the burst, each one's upstream calls counted."""
    repeat = 1 if quick else 3
    with simulator(latency_ms=200) as sim, serve(sim.api_url) as server, session() as http:
        url = f"{server.base}/geral"
        get(http, url)
        for count in (20, 200):
            ones, bursts = [], []
            for _ in range(repeat):
                sim.reset()
                get(http, url)
                ones.append(sim.calls())
                sim.reset()
                statuses = Counter(s.status for s in burst(server.base, ["/geral"] * count))
                if statuses[200] != count:
                    raise BenchError(f"{count} at once: statuses {dict(statuses)}")
                bursts.append(sim.calls())
            name = f"{count} simultaneous /geral: upstream calls / one request's"
            out.goal(name, median(bursts) / median(ones), "≤ 1.50", f"{median(ones):g} calls")
