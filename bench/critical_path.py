"""Is /geral as fast as its dependent calls allow? (issue 3)

With the simulator at 200 ms per call, ``/geral`` should take about as long as its chain of
dependent round trips (platforms -> fields/accounts page 1 -> other pages -> insights), not as
long as all its calls one after the other. Prints the wall time, the upstream calls, the ratio to
the critical path (target <= 1.25) and how much faster than the sequential strategy it is
(concurrency=1; target >= 5). Medians of three requests each, measured in this one run.
"""

from __future__ import annotations

import sys

from common import GeralTiming, machine, mark, time_geral

LATENCY = 0.2
PATH_GOAL = 1.25
SEQUENTIAL_GOAL = 5.0


def describe(parallel: GeralTiming, sequential: GeralTiming) -> list[str]:
    """The lines this script prints."""
    speedup = sequential.wall / parallel.wall
    path = parallel.round_trips * parallel.latency
    latency = f"{parallel.latency * 1000:.0f} ms"
    rows = [
        (f"wall time (median of {len(parallel.walls)})", f"{parallel.wall:.3f} s"),
        ("upstream calls", f"{parallel.upstream_calls:g} (max {parallel.max_in_flight} in flight)"),
        ("critical path", f"{parallel.round_trips} round trips x {latency} = {path:.3f} s"),
        (
            "wall / critical path",
            f"{parallel.ratio:.2f}   target <= {PATH_GOAL}  {mark(parallel.ratio <= PATH_GOAL)}",
        ),
        (
            "concurrency=1 wall",
            f"{sequential.wall:.3f} s ({sequential.upstream_calls:g} calls, "
            f"max {sequential.max_in_flight} in flight)",
        ),
        (
            "concurrency=1 / default",
            f"{speedup:.1f}x   target >= {SEQUENTIAL_GOAL:g}  {mark(speedup >= SEQUENTIAL_GOAL)}",
        ),
    ]
    header = f"/geral, simulator at {latency} per call; {machine()}"
    return [header] + [f"{label:<26}{value}" for label, value in rows]


def main() -> int:
    parallel = time_geral(LATENCY)
    sequential = time_geral(LATENCY, concurrency=1)
    print("\n".join(describe(parallel, sequential)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
