"""3. Scale at 0 ms latency: wall against the floor, server CPU per row, peak RSS."""

from __future__ import annotations

import time

from floor import Floor, PlainClient
from harness import TIMEOUT, BenchError, Out, serve, session, simulator

TITLE = "3. Scale: /geral on synthetic data at 0 ms latency"
# A whole report at these sizes outlasts the default 30 s report deadline today.
PATIENT = {"STRACT_REPORT_DEADLINE": "600", "STRACT_API_TIMEOUT": "120"}
# name: (accounts per platform, ads per account), full and quick. "many" is 10,605 insight
# calls (3,535 small accounts on each of the three platforms) for about 95,000 rows.
SIZES = {
    "900k": ((300, 1000), (30, 100)),
    "300k": ((100, 1000), (10, 100)),
    "many": ((3535, 9), (354, 9)),
}


def cold_geral(accounts: int, ads: int) -> tuple[Floor, int, float, float, float]:
    """The floor, then one cold /geral (CSV, streamed): upstream calls, wall, CPU, peak RSS."""
    with simulator("--synthetic", f"{accounts},{ads}") as sim:
        with PlainClient(sim.api_url, 16) as plain:
            floor = plain.read()
        with serve(sim.api_url, PATIENT) as server, session() as http:
            sim.reset()
            cpu, start, lines, last = server.cpu(), time.perf_counter(), 0, b""
            with http.get(f"{server.base}/geral", stream=True, timeout=TIMEOUT) as response:
                if response.status_code != 200:
                    raise BenchError(
                        f"/geral answered {response.status_code}: {response.text[:300]}"
                    )
                for chunk in response.iter_content(
                    1 << 20
                ):  # rows end in CRLF, cells' newlines in LF
                    lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                    last = chunk[-1:]
            wall, cpu = time.perf_counter() - start, server.cpu() - cpu
            calls, rss = sim.calls(), server.peak_rss_mb()
    if lines - 1 != floor.rows:
        raise BenchError(f"/geral has {lines - 1} rows, the plain client read {floor.rows}")
    return floor, calls, wall, cpu, rss


def run(out: Out, quick: bool) -> None:
    """Each size on a fresh simulator and server."""
    found = {name: cold_geral(*sizes[quick]) for name, sizes in SIZES.items()}
    rows = [
        [
            f"{f.rows:,}",
            f"{calls:,}",
            f"{wall:.2f} s",
            f"{f.fetch + f.csv:.2f} s ({f.fetch:.2f} + {f.csv:.2f})",
            f"{wall / (f.fetch + f.csv):.2f}",
            f"{cpu / f.rows * 1e6:.1f} µs",
            f"{rss:.0f} MB",
        ]
        for f, calls, wall, cpu, rss in found.values()
    ]
    out.table(
        [
            "rows",
            "upstream calls",
            "wall",
            "floor (fetch + csv)",
            "wall / floor",
            "server CPU / row",
            "server peak RSS",
        ],
        rows,
    )
    out(
        "Floor: a plain client reading every page with 16 threads (requests + json, parsed in the"
        " threads), plus csv.writer over the rows. One cold request per size.",
        "",
    )
    (big, _, wall, cpu, rss), mid, many = found["900k"], found["300k"], found["many"]
    floor = f"floor {big.fetch + big.csv:.1f} s"
    out.goal(f"{big.rows:,} rows: wall / floor", wall / (big.fetch + big.csv), "≤ 1.20", floor)
    out.goal(
        f"{big.rows:,} rows: server CPU per row",
        cpu / big.rows * 1e6,
        "≤ 12.0 µs",
        "lean parse→csv ~4.4 µs",
    )
    out.goal(f"{big.rows:,} rows: server peak RSS", rss, "≤ 400 MB", "—")
    out.goal(f"{mid[0].rows:,} rows: server peak RSS", mid[4], "≤ 150 MB", "—")
    floor = f"floor {many[0].fetch + many[0].csv:.1f} s"
    out.goal(
        f"{many[1]:,} upstream calls, {many[0].rows:,} rows: wall / floor",
        many[2] / (many[0].fetch + many[0].csv),
        "≤ 1.30",
        floor,
    )
