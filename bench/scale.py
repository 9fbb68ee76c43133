"""3. Scale at 0 ms latency: wall against the floor, server CPU per row, peak RSS over the idle
server's, and the time to the first byte against the time of the last upstream byte."""

from __future__ import annotations

import time
from typing import NamedTuple

from floor import PlainClient
from harness import TIMEOUT, BenchError, Out, serve, session, simulator

TITLE = "3. Scale: /geral on synthetic data at 0 ms latency"
# Limits raised for reports this big (the default 30 s deadline is too short for them today;
# a page cap, once there is one, must allow ~1,200 pages of accounts). Unknown names are ignored.
PATIENT = {
    "STRACT_REPORT_DEADLINE": "600",
    "STRACT_API_TIMEOUT": "120",
    "STRACT_MAX_PAGES": "100000",
}
# (accounts per platform, ads per account), full and quick. "many" is 10,605 insight calls
# (3,535 small accounts on each of the three platforms, ~1,900 pages of accounts besides) for
# about 95,000 rows.
SIZES = {
    "900k": [(300, 1000), (30, 100)],
    "300k": [(100, 1000), (10, 100)],
    "many": [(3535, 9), (354, 9)],
}
HEADER = "rows | insight calls | wall | floor (fetch + csv) | wall / floor | server CPU / row"
HEADER += " | peak RSS over idle (idle) | first byte / last upstream byte"
ROW = "{0.rows:,} | {0.calls:,} | {0.wall:.2f} s | {0.floor:.2f} s ({0.fetch:.2f} + {0.csv:.2f})"
ROW += " | {1:.2f} | {0.cpu_us:.1f} µs | {0.rss:.0f} MB ({0.idle:.0f} MB)"
ROW += " | {0.first:.2f} s / {0.upstream:.2f} s = {2:.3f}"


class Point(NamedTuple):
    """One size: rows, insight calls, seconds (wall, floor and its parts), µs/row, MB."""

    rows: int
    calls: int
    wall: float
    floor: float
    fetch: float
    csv: float
    cpu_us: float
    rss: float  # peak over idle
    idle: float
    first: float  # seconds from the request to the first byte of the answer
    upstream: float  # seconds from the request to the last upstream answer


def cold_geral(accounts: int, ads: int) -> Point:
    """The floor, then one cold /geral (CSV, streamed) on a fresh server."""
    with simulator("--synthetic", f"{accounts},{ads}") as sim:
        with PlainClient(sim.api_url, 16) as plain:
            floor = plain.read()
        with serve(sim.api_url, PATIENT) as server, session() as http:
            sim.reset()
            idle = server.rss_mb()
            cpu, start, lines, last = server.cpu(), time.monotonic(), 0, b""
            with http.get(f"{server.base}/geral", stream=True, timeout=TIMEOUT) as response:
                if response.status_code != 200:
                    raise BenchError(f"/geral: {response.status_code} {response.text[:300]}")
                first = None
                for chunk in response.iter_content(1 << 20):  # rows end in CRLF, not cells
                    first = first or time.monotonic() - start
                    lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                    last = chunk[-1:]
            wall, cpu = time.monotonic() - start, server.cpu() - cpu
            stats, rss = sim.stats(), server.peak_rss_mb()
            calls, upstream = stats["requests"]["insights"], stats["last_answered"] - start
    if lines - 1 != floor.rows:
        raise BenchError(f"/geral has {lines - 1} rows, the plain client read {floor.rows}")
    total = floor.fetch + floor.csv
    per_row = cpu / floor.rows * 1e6
    return Point(
        floor.rows,
        calls,
        wall,
        total,
        floor.fetch,
        floor.csv,
        per_row,
        rss - idle,
        idle,
        first or wall,
        upstream,
    )


def run(out: Out, quick: bool) -> None:
    """Each size on a fresh simulator and server."""
    big, mid, many = (cold_geral(*sizes[quick]) for sizes in SIZES.values())
    rows = [ROW.format(p, p.wall / p.floor, p.first / p.upstream) for p in (big, mid, many)]
    out.table(HEADER, rows)
    out(
        "Floor: a plain client reading every page with 16 threads (requests + json, parsed in the"
        " threads), plus csv.writer over the rows. One cold request per size. Peak RSS is counted"
        " over the server's resident set just before the request (idle, after start). The first"
        " byte is timed from the request, as is the simulator's last answer (both on the"
        " machine's monotonic clock).",
        "",
    )
    for p in (big, mid):
        rows, floor = f"{p.rows:,} rows", f"floor {p.floor:.1f} s"
        out.goal(f"{rows}: wall / floor", p.wall / p.floor, "≤ 1.10", floor)
    rows = f"{big.rows:,} rows"
    out.goal(f"{rows}: server CPU per row", big.cpu_us, "≤ 8.0 µs", "lean parse→csv ~4.4 µs")
    out.goal(f"{rows}: server peak RSS over idle", big.rss, "≤ 350 MB", f"idle {big.idle:.0f} MB")
    out.goal(
        f"{mid.rows:,} rows: server peak RSS over idle",
        mid.rss,
        "≤ 120 MB",
        f"idle {mid.idle:.0f} MB",
    )
    out.goal(
        f"{mid.rows:,} rows: first byte / last upstream byte",
        mid.first / mid.upstream,
        "≤ 1.05",
        f"last upstream byte at {mid.upstream:.2f} s",
    )
    name = f"{many.calls:,} insight calls, {many.rows:,} rows: wall / floor"
    out.goal(name, many.wall / many.floor, "≤ 1.30", f"floor {many.floor:.1f} s")
