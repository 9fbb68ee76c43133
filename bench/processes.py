"""11. Several serve processes sharing one Redis (issue 13; ``run.py processes``).

N separate ``serve`` process groups on their own ports (as N hosts would be, each with one
worker), and one ``serve --workers 2``, each fleet fresh, without and with
``STRACT_SHARED_URL`` pointing at a ``redis-server`` started here (loopback, no persistence,
emptied before each fleet). Clients spread identical /geral over the fleet. Then what Redis costs
one read: warm /geral at 0 ms latency on one serve, without and with Redis, alternated.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from statistics import median

from harness import (
    HOST,
    BenchError,
    Out,
    free_port,
    get,
    hammer,
    process,
    serve,
    session,
    simulator,
)

TITLE = "9. Processes: identical /geral over several serve processes, with and without Redis"
CLIENTS = 16
# A bearer token of the fleet's own: with the public one there is no secret to seal what the
# processes hand each other, and they share no read (README, "Running on several machines").
TOKEN = "a-token-only-this-fleet-has"
PRIVATE = {"STRACT_API_TOKEN": TOKEN}
# (name, serve process groups, serve's arguments)
FLEETS = [
    ("1 serve", 1, ()),
    ("2 serve (hosts)", 2, ()),
    ("4 serve (hosts)", 4, ()),
    ("serve --workers 2", 1, ("--workers", "2")),
]


def redis_command(port: str, command: bytes) -> bytes:
    """Send one inline command, return the start of the answer (b"" when nothing answers)."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, int(port)), 2) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(64)
    return b""


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, keeping nothing on disk; yields its port."""
    if not shutil.which("redis-server"):
        raise BenchError("redis-server is not on PATH (Debian: apt-get install redis-server)")
    port = free_port()
    args = ["redis-server", "--bind", HOST, "--port", port, "--save", "", "--appendonly", "no"]
    with process(args, lambda: redis_command(port, b"PING") == b"+PONG\r\n", {}):
        yield port


def run(out: Out, quick: bool) -> None:
    """Each fleet without, then with, the shared Redis; per fleet one hammer of /geral."""
    seconds, rows, per_request = 3 if quick else 10, [], {}
    with simulator("--token", TOKEN, latency_ms=200) as sim, redis() as port:
        for name, groups, args in FLEETS:
            for shared in ("", f"redis://{HOST}:{port}/0"):
                redis_command(port, b"FLUSHALL")
                with contextlib.ExitStack() as fleet:
                    env = {"STRACT_SHARED_URL": shared, **PRIVATE}
                    servers = [
                        fleet.enter_context(serve(sim.api_url, env, args)) for _ in range(groups)
                    ]
                    bases = [server.base for server in servers]
                    sim.reset()
                    cpu = sum(server.cpu() for server in servers)
                    samples = hammer("", [f"{base}/geral" for base in bases], CLIENTS, seconds)
                    cpu = sum(server.cpu() for server in servers) - cpu
                    calls = sim.calls()
                ok = sum(s.status == 200 for s in samples)
                per_request[name, bool(shared)] = each = calls / len(samples)
                label = "Redis" if shared else "—"
                ms = cpu / len(samples) * 1000
                rate = ok / seconds
                rows.append(
                    f"{name} | {label} | {len(samples)} | {rate:.1f} | {each:.1f} | {ms:.1f}"
                )
    out.table(
        "fleet | shared | requests | req/s (200s) | upstream calls / request"
        " | serve CPU ms / request",
        rows,
    )
    out(
        f"{CLIENTS} clients, {seconds} s per fleet, from fresh processes; the simulator at"
        " 200 ms per call.",
        "",
    )
    one = per_request["1 serve", True]
    for name, _, _ in FLEETS[1:]:
        goal = f"{name} with Redis: upstream calls per request / 1 serve's"
        out.goal(goal, per_request[name, True] / one, "≤ 1.50", f"1 serve: {one:.1f} calls")
    overhead(out, quick)


def overhead(out: Out, quick: bool) -> None:
    """Warm /geral at 0 ms on one serve without and with Redis, alternated: Redis's cost in
    wall time per report and in serve CPU per upstream read."""
    repeat = 11 if quick else 41
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, float] = {}
    with simulator("--token", TOKEN) as sim, redis() as port:
        url = f"redis://{HOST}:{port}/0"
        with (
            serve(sim.api_url, PRIVATE) as alone,
            serve(sim.api_url, {"STRACT_SHARED_URL": url, **PRIVATE}) as shared,
            session() as http,
        ):
            sim.reset()
            get(http, f"{alone.base}/geral")  # connections open, the shape known
            calls = sim.calls()
            get(http, f"{shared.base}/geral")
            servers = {False: alone, True: shared}
            cpu = {on: server.cpu() for on, server in servers.items()}
            for _ in range(repeat):
                for on, server in servers.items():
                    walls[on].append(get(http, f"{server.base}/geral")[0])
            cpu = {on: server.cpu() - cpu[on] for on, server in servers.items()}
    without, with_redis = median(walls[False]) * 1000, median(walls[True]) * 1000
    per_read = (cpu[True] - cpu[False]) / (repeat * calls) * 1e6
    out(
        f"Warm /geral at 0 ms, one serve: {without:.1f} ms without Redis, {with_redis:.1f} ms"
        f" with it (medians of {repeat}, alternated): {with_redis - without:+.1f} ms per report"
        f" of {calls} upstream reads, made in parallel. Serve CPU: {per_read:+.0f} µs per read"
        " (two script calls: claim; finish and hand over).",
        "",
    )
    out.goal(
        "Redis's serve CPU per upstream read (warm /geral at 0 ms)",
        per_read / 1000,
        "≤ 0.50 ms",
        f"{cpu[False] / (repeat * calls) * 1000:.2f} ms per read without Redis",
    )
