"""2. /geral at 0 ms latency on the real data: our time above the simulator's own."""

from __future__ import annotations

from statistics import median

from floor import PlainClient
from harness import Out, get, serve, session, simulator

TITLE = "2. Our overhead on /geral at 0 ms latency"


def run(out: Out, quick: bool) -> None:
    """Warm /geral and the plain client's read of the same calls, alternated."""
    repeat = 11 if quick else 41
    walls, floors = [], []
    with (
        simulator() as sim,
        serve(sim.api_url) as server,
        session() as http,
        PlainClient(sim.api_url, 32) as plain,
    ):
        get(http, f"{server.base}/geral")  # connections open, the shape known
        plain.read()
        for _ in range(repeat):
            walls.append(get(http, f"{server.base}/geral")[0])
            floors.append(plain.read().fetch)
    wall, floor = median(walls) * 1000, median(floors) * 1000
    out(
        f"Warm /geral: {wall:.1f} ms; a plain client making the same calls with 32 threads:"
        f" {floor:.1f} ms (medians of {repeat}, alternated). The simulator serves one call at a"
        " time (one process, the GIL), so both wait mostly for its own time.",
        "",
    )
    name = "/geral at 0 ms: our time above the simulator's"
    out.goal(name, wall - floor, "≤ 10.0 ms", f"plain client {floor:.1f} ms")
