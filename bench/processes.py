"""11. Several serve processes sharing one Redis (issue 13; ``run.py processes``).

N separate ``serve`` process groups on their own ports (as N hosts would be, each with one
worker), and one ``serve --workers 2``, each fleet fresh, without and with
``STRACT_SHARED_URL`` pointing at a ``redis-server`` started here (loopback, no persistence,
emptied before each fleet). Clients spread identical /geral over the fleet.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator

from harness import HOST, BenchError, Out, free_port, hammer, process, serve, simulator

TITLE = "11. Processes: identical /geral over several serve processes, with and without Redis"
CLIENTS = 16
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
    with simulator(latency_ms=200) as sim, redis() as port:
        for name, groups, args in FLEETS:
            for shared in ("", f"redis://{HOST}:{port}/0"):
                redis_command(port, b"FLUSHALL")
                with contextlib.ExitStack() as fleet:
                    env = {"STRACT_SHARED_URL": shared}
                    bases = [
                        fleet.enter_context(serve(sim.api_url, env, args)).base
                        for _ in range(groups)
                    ]
                    sim.reset()
                    samples = hammer("", [f"{base}/geral" for base in bases], CLIENTS, seconds)
                    calls = sim.calls()
                ok = sum(s.status == 200 for s in samples)
                per_request[name, bool(shared)] = each = calls / len(samples)
                label = "Redis" if shared else "—"
                rows.append(f"{name} | {label} | {len(samples)} | {ok / seconds:.1f} | {each:.1f}")
    out.table("fleet | shared | requests | req/s (200s) | upstream calls / request", rows)
    out(f"{CLIENTS} clients, {seconds} s per fleet, from fresh processes.", "")
    one = per_request["1 serve", True]
    for name, _, _ in FLEETS[1:]:
        goal = f"{name} with Redis: upstream calls per request / 1 serve's"
        out.goal(goal, per_request[name, True] / one, "≤ 1.50", f"1 serve: {one:.1f} calls")
