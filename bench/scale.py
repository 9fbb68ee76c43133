"""3. Scale at 0 ms latency: wall against the floor, server CPU per row, peak RSS."""

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
HEADER += " | peak RSS"
ROW = "{0.rows:,} | {0.calls:,} | {0.wall:.2f} s | {0.floor:.2f} s ({0.fetch:.2f} + {0.csv:.2f})"
ROW += " | {1:.2f} | {0.cpu_us:.1f} µs | {0.rss:.0f} MB"


class Point(NamedTuple):
    """One size: rows, insight calls, seconds (wall, floor and its parts), µs/row, MB."""

    rows: int
    calls: int
    wall: float
    floor: float
    fetch: float
    csv: float
    cpu_us: float
    rss: float


def cold_geral(accounts: int, ads: int) -> Point:
    """The floor, then one cold /geral (CSV, streamed) on a fresh server."""
    with simulator("--synthetic", f"{accounts},{ads}") as sim:
        with PlainClient(sim.api_url, 16) as plain:
            floor = plain.read()
        with serve(sim.api_url, PATIENT) as server, session() as http:
            sim.reset()
            cpu, start, lines, last = server.cpu(), time.perf_counter(), 0, b""
            with http.get(f"{server.base}/geral", stream=True, timeout=TIMEOUT) as response:
                if response.status_code != 200:
                    raise BenchError(f"/geral: {response.status_code} {response.text[:300]}")
                for chunk in response.iter_content(1 << 20):  # rows end in CRLF, not cells
                    lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                    last = chunk[-1:]
            wall, cpu = time.perf_counter() - start, server.cpu() - cpu
            calls, rss = sim.stats()["requests"]["insights"], server.peak_rss_mb()
    if lines - 1 != floor.rows:
        raise BenchError(f"/geral has {lines - 1} rows, the plain client read {floor.rows}")
    total = floor.fetch + floor.csv
    return Point(
        floor.rows, calls, wall, total, floor.fetch, floor.csv, cpu / floor.rows * 1e6, rss
    )


def run(out: Out, quick: bool) -> None:
    """Each size on a fresh simulator and server."""
    big, mid, many = (cold_geral(*sizes[quick]) for sizes in SIZES.values())
    out.table(HEADER, [ROW.format(p, p.wall / p.floor) for p in (big, mid, many)])
    out(
        "Floor: a plain client reading every page with 16 threads (requests + json, parsed in the"
        " threads), plus csv.writer over the rows. One cold request per size.",
        "",
    )
    rows, floor = f"{big.rows:,} rows", f"floor {big.floor:.1f} s"
    out.goal(f"{rows}: wall / floor", big.wall / big.floor, "≤ 1.20", floor)
    out.goal(f"{rows}: server CPU per row", big.cpu_us, "≤ 12.0 µs", "lean parse→csv ~4.4 µs")
    out.goal(f"{rows}: server peak RSS", big.rss, "≤ 400 MB", "—")
    out.goal(f"{mid.rows:,} rows: server peak RSS", mid.rss, "≤ 150 MB", "—")
    name = f"{many.calls:,} insight calls, {many.rows:,} rows: wall / floor"
    out.goal(name, many.wall / many.floor, "≤ 1.30", f"floor {many.floor:.1f} s")
