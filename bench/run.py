"""The benchmarks (``make bench``): print a table of measurements next to their goals and
rewrite ``bench/results.md``.

a. critical path: /geral at 50 and 200 ms per upstream call vs its dependent round trips
b. sequential strategy: concurrency=1 vs the default, at 200 ms
c. coalescing: 20 simultaneous /geral on one server, upstream calls and latency
d. scale: synthetic data at about 30k, 100k and 300k rows, report server and simulator in
   separate processes: time, CPU, peak RSS, growth, and a cProfile of the 100k case
e. throughput: /geral/resumo on gunicorn with 1 and 2 workers

Machines are shared and noisy: every time is a median of several repetitions, and every ratio
compares measurements taken in this one run. ``--quick`` runs small sizes, for development.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from common import (
    BENCH,
    REQUEST_TIMEOUT,
    BenchError,
    GeralTiming,
    Upstream,
    clean_env,
    cpu_seconds,
    get_ok,
    group_cpu_seconds,
    gunicorn_server,
    machine,
    mark,
    median,
    percentile,
    report_server,
    run_clients,
    simulator_process,
    time_geral,
)
from stract_reports.config import Settings
from stract_reports.simulator import DEFAULT_TOKEN

PATH_GOAL = 1.25  # wall / critical path
SEQUENTIAL_GOAL = 5.0  # sequential wall / parallel wall
COALESCE_GOAL = 1.5  # upstream calls of a burst / calls of one request
GROWTH_GOAL = 2.2  # time for twice the rows
RSS_GOAL_MB = 600.0  # peak RSS of the report server at the largest size


@dataclass(frozen=True)
class Plan:
    """How big each section runs: the full run, or a quick one for development."""

    repeat: int
    burst: int
    scales: tuple[tuple[int, int], ...]  # (accounts per platform, ads per account)
    profiled: int  # index in ``scales`` of the size to profile
    throughput_seconds: float
    throughput_rounds: int
    clients: int


FULL = Plan(3, 20, ((100, 100), (100, 333), (100, 1000)), 1, 5.0, 3, 8)
QUICK = Plan(1, 20, ((20, 50), (20, 100), (20, 200)), 1, 1.0, 1, 4)


class Output:
    """Lines printed as they come and kept for ``results.md``, and the goals met or missed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.goals: list[list[str]] = []

    def goal(self, name: str, measured: str, target: str, ok: bool) -> str:
        """Record a goal for the summary; the target with its mark, to print in place."""
        self.goals.append([name, measured, target, mark(ok)])
        return f"{target} {mark(ok)}"

    def __call__(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A Markdown table."""
        self("| " + " | ".join(header) + " |", "|" + "---|" * len(header))
        for row in rows:
            self("| " + " | ".join(str(cell) for cell in row) + " |")
        self("")


def ms(seconds: float) -> str:
    """Seconds printed as whole milliseconds."""
    return f"{seconds * 1000:.0f} ms"


# -- a, b ------------------------------------------------------------------------------------


def upstream_call_floor(samples: int = 20) -> float:
    """Median seconds of one simulator call (platform list) on a kept-alive connection at 0 ms:
    what every upstream call costs on top of the configured latency."""
    with simulator_process() as sim, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {DEFAULT_TOKEN}"
        walls = []
        for _ in range(samples):
            start = time.perf_counter()
            http.get(f"{sim.api_url}/platforms", timeout=REQUEST_TIMEOUT).raise_for_status()
            walls.append(time.perf_counter() - start)
        return median(walls[1:])  # the first call opens the connection


def critical_path(out: Output, plan: Plan) -> None:
    out("## a. Critical path of /geral", "")
    timings = [time_geral(latency, repeat=plan.repeat) for latency in (0.05, 0.2)]
    rows = [
        [
            ms(t.latency),
            f"{t.wall:.3f} s",
            f"{t.upstream_calls:g}",
            t.max_in_flight,
            t.round_trips,
            f"{t.ratio:.2f}",
            out.goal(
                f"/geral wall / critical path at {ms(t.latency)}",
                f"{t.ratio:.2f}",
                f"≤ {PATH_GOAL}",
                t.ratio <= PATH_GOAL,
            ),
        ]
        for t in timings
    ]
    header = ["latency", f"wall (median of {plan.repeat})", "upstream calls", "max in flight"]
    out.table(header + ["dependent round trips", "wall / (round trips × latency)", "goal"], rows)
    floor = upstream_call_floor()
    out(
        f"One simulator call on a kept-alive connection at 0 ms latency takes {floor * 1000:.1f} ms"
        " (median of 19): part of every round trip above.",
        "",
    )

    out("## b. Against the sequential strategy (200 ms per call)", "")
    parallel = timings[1]
    sequential = time_geral(0.2, repeat=plan.repeat, concurrency=1)
    speedup = sequential.wall / parallel.wall
    out.table(
        ["strategy", f"wall (median of {plan.repeat})", "upstream calls", "max in flight"],
        [
            strategy_row("sequential (concurrency=1)", sequential),
            strategy_row(f"parallel (concurrency={Settings.concurrency})", parallel),
        ],
    )
    target = out.goal(
        "sequential wall / parallel wall at 200 ms",
        f"{speedup:.1f}×",
        f"≥ {SEQUENTIAL_GOAL:g}×",
        speedup >= SEQUENTIAL_GOAL,
    )
    out(f"sequential / parallel = **{speedup:.1f}×** (goal {target})", "")


def strategy_row(name: str, timing: GeralTiming) -> list[object]:
    """One line of the strategy table."""
    return [name, f"{timing.wall:.3f} s", f"{timing.upstream_calls:g}", timing.max_in_flight]


# -- c ---------------------------------------------------------------------------------------


def burst(url: str, clients: int) -> list[float]:
    """``clients`` threads GET ``url`` at the same moment; each one's latency in seconds."""
    barrier = threading.Barrier(clients)
    walls: list[float] = []
    errors: list[str] = []

    def client() -> None:
        with requests.Session() as http:
            barrier.wait(timeout=30)
            try:
                walls.append(get_ok(http, url)[0])
            except (BenchError, requests.RequestException) as exc:
                errors.append(str(exc))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 30)
    if errors or len(walls) != clients:
        raise BenchError(f"burst: {len(walls)} of {clients} answered 200; {errors[:1]}")
    return walls


def coalescing(out: Output, plan: Plan) -> None:
    out(f"## c. Coalescing: {plan.burst} simultaneous /geral, one server, 200 ms per call", "")
    with (
        simulator_process(latency=0.2) as sim,
        report_server(Settings(api_url=sim.api_url)) as base,
        requests.Session() as http,
    ):
        url = f"{base}/geral"
        get_ok(http, url)  # warm-up
        singles, single_calls, burst_calls, p95s = [], [], [], []
        for _ in range(plan.repeat):
            sim.reset()
            singles.append(get_ok(http, url)[0])
            single_calls.append(sim.stats()["total"])
            sim.reset()
            p95s.append(percentile(burst(url, plan.burst), 95))
            burst_calls.append(sim.stats()["total"])
    calls_ratio = median(burst_calls) / median(single_calls)
    latency_ratio = median(p95s) / median(singles)
    out.table(
        ["measure", f"median of {plan.repeat}", "goal"],
        [
            ["one request alone: latency", f"{median(singles):.3f} s", ""],
            ["one request alone: upstream calls", f"{median(single_calls):g}", ""],
            [f"{plan.burst} at once: upstream calls", f"{median(burst_calls):g}", ""],
            [f"{plan.burst} at once: p95 latency", f"{median(p95s):.3f} s", ""],
            [
                "upstream calls / calls of one request",
                f"{calls_ratio:.2f}",
                out.goal(
                    f"{plan.burst} simultaneous /geral: upstream calls / one request's",
                    f"{calls_ratio:.2f}",
                    f"≤ {COALESCE_GOAL}",
                    calls_ratio <= COALESCE_GOAL,
                ),
            ],
            ["p95 latency / one request's latency", f"{latency_ratio:.2f}", "(reported)"],
        ],
    )


# -- d ---------------------------------------------------------------------------------------


def run_worker(api_url: str, *flags: str) -> dict[str, Any]:
    """``report_worker.py`` in a fresh process; its JSON result."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "report_worker.py"), api_url, *flags],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    if done.returncode != 0:
        raise BenchError(f"report worker failed:\n{done.stdout[-500:]}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


@dataclass(frozen=True)
class ScalePoint:
    accounts: int
    ads: int
    rows: int
    wall: float  # median seconds per request
    cpu: float  # median report-server CPU seconds per request
    simulator_cpu: float  # simulator CPU seconds per request
    peak_rss_mb: float
    rss_before_mb: float


def measure_scale(sim: Upstream, accounts: int, ads: int, repeat: int) -> ScalePoint:
    expected = 3 * accounts * ads
    before = cpu_seconds(sim.pid)
    result = run_worker(sim.api_url, "--repeat", str(repeat))
    simulator_cpu = (cpu_seconds(sim.pid) - before) / repeat
    if result["rows"] != expected:
        raise BenchError(f"/geral has {result['rows']} rows, expected {expected}")
    return ScalePoint(
        accounts,
        ads,
        expected,
        median(result["walls"]),
        median(result["cpu"]),
        simulator_cpu,
        result["peak_rss_mb"],
        result["rss_before_mb"],
    )


def doubling_factor(small: ScalePoint, large: ScalePoint) -> float:
    """Time for twice the rows, as a multiple: 2 ** k where time grows as rows ** k."""
    exponent = math.log(large.wall / small.wall) / math.log(large.rows / small.rows)
    return 2**exponent


def scale(out: Output, plan: Plan) -> None:
    out("## d. Scale: /geral on synthetic data, 0 ms latency, separate processes", "")
    points: list[ScalePoint] = []
    hot: dict[str, Any] = {}
    for index, (accounts, ads) in enumerate(plan.scales):
        with simulator_process("--synthetic", f"{accounts},{ads}") as sim:
            points.append(measure_scale(sim, accounts, ads, plan.repeat))
            if index == plan.profiled:
                hot = run_worker(sim.api_url, "--profile")
    us = 1e6
    out.table(
        ["rows", "platforms × accounts × ads", f"wall (median of {plan.repeat})", "rows/s"]
        + ["server CPU/row", "simulator CPU/row", "server peak RSS"],
        [
            [
                f"{p.rows:,}",
                f"3 × {p.accounts} × {p.ads}",
                f"{p.wall:.2f} s",
                f"{p.rows / p.wall:,.0f}",
                f"{p.cpu / p.rows * us:.1f} µs",
                f"{p.simulator_cpu / p.rows * us:.1f} µs",
                f"{p.peak_rss_mb:.0f} MB",
            ]
            for p in points
        ],
    )
    growth = []
    for small, large in zip(points, points[1:], strict=False):
        factor = doubling_factor(small, large)
        sizes = f"{small.rows:,} → {large.rows:,}"
        target = out.goal(
            f"time for 2× rows ({sizes})",
            f"{factor:.2f}×",
            f"≤ {GROWTH_GOAL}×",
            factor <= GROWTH_GOAL,
        )
        growth.append([sizes, f"{factor:.2f}×", target])
    out.table(["growth", "time for 2× rows", "goal"], growth)
    largest = points[-1]
    target = out.goal(
        f"server peak RSS at {largest.rows:,} rows",
        f"{largest.peak_rss_mb:.0f} MB",
        f"≤ {RSS_GOAL_MB:.0f} MB",
        largest.peak_rss_mb <= RSS_GOAL_MB,
    )
    out(
        f"Peak RSS of the report server at {largest.rows:,} rows: {largest.peak_rss_mb:.0f} MB "
        f"({largest.rss_before_mb:.0f} MB before the first request; goal {target})",
        "",
    )
    profiled = points[plan.profiled]
    cpu = hot["cpu"][0]
    out(
        f"cProfile of one /geral at {profiled.rows:,} rows, every thread, CPU time per thread "
        f"(the profiler inflates it: {cpu:.1f} s CPU profiled vs {profiled.cpu:.1f} s without)",
        "",
    )
    for kind, title in (("own", "own time"), ("cumulative", "cumulative time")):
        out.table(
            [f"top by {title}", "calls", "own", "cumulative", "of profiled CPU"],
            [
                [
                    f"`{e['function']}`",
                    f"{e['calls']:,}",
                    f"{e['own']:.2f} s",
                    f"{e['cumulative']:.2f} s",
                    f"{e[kind] / cpu:.0%}",
                ]
                for e in hot["hot_spots"][kind]
            ],
        )


# -- e ---------------------------------------------------------------------------------------


@dataclass
class Throughput:
    """What one server did over all rounds of the throughput test."""

    rates: list[float]
    latencies: list[float]
    statuses: Counter[int]
    server_cpu: float = 0.0
    simulator_cpu: float = 0.0
    upstream_calls: int = 0

    def row(self, workers: int) -> list[object]:
        """This server's line of the throughput table."""
        count = len(self.latencies)
        return [
            workers,
            f"{median(self.rates):.1f}",
            ms(percentile(self.latencies, 50)),
            ms(percentile(self.latencies, 95)),
            f"{self.upstream_calls / count:.1f}",
            ms(self.server_cpu / count),
            ms(self.simulator_cpu / count),
            ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items())),
        ]


def throughput(out: Output, plan: Plan) -> None:
    path, threads = "/geral/resumo", 8
    seconds, rounds = plan.throughput_seconds, plan.throughput_rounds
    out(
        f"## e. Throughput: {path}, real data, 0 ms latency, gunicorn gthread ({threads} "
        f"threads), {plan.clients} clients × {seconds:g} s × {rounds} rounds",
        "",
    )
    with (
        simulator_process() as sim,
        gunicorn_server(sim.api_url, workers=1, threads=threads) as one,
        gunicorn_server(sim.api_url, workers=2, threads=threads) as two,
    ):
        servers = {1: one, 2: two}
        for server in servers.values():  # warm-up: every worker loaded and connected
            run_clients(server.base, [path], clients=plan.clients, seconds=1.0)
        results = {workers: Throughput([], [], Counter()) for workers in servers}
        for _ in range(rounds):  # alternate, so that both see the same noise
            for workers, server in servers.items():
                result = results[workers]
                sim.reset()
                before = group_cpu_seconds(server.pgid), cpu_seconds(sim.pid)
                samples = run_clients(server.base, [path], clients=plan.clients, seconds=seconds)
                result.server_cpu += group_cpu_seconds(server.pgid) - before[0]
                result.simulator_cpu += cpu_seconds(sim.pid) - before[1]
                result.upstream_calls += sim.stats()["total"]
                result.rates.append(len(samples) / seconds)
                result.latencies += [s.seconds for s in samples]
                result.statuses.update(s.status for s in samples)
    out.table(
        ["workers", f"requests/s (median of {rounds})", "p50", "p95", "upstream calls/request"]
        + ["server CPU/request", "simulator CPU/request", "statuses"],
        [results[w].row(w) for w in servers],
    )
    speedup = median(results[2].rates) / median(results[1].rates)
    out(
        f"2 workers / 1 worker = {speedup:.2f}×. The two cores also run the simulator and the "
        "clients, and identical reads are shared only within a worker process.",
        "",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Small sizes, for development.")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    out = Output()
    start = time.monotonic()
    out("# stract-reports benchmarks", "", f"{machine()}", "")
    critical_path(out, plan)
    coalescing(out, plan)
    scale(out, plan)
    throughput(out, plan)
    out("## Goals", "")
    out.table(["goal", "measured", "target", ""], out.goals)
    out(f"Total benchmark time: {time.monotonic() - start:.0f} s")
    if plan is FULL:
        (BENCH / "results.md").write_text("\n".join(out.lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
