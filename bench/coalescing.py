"""Simultaneous identical reports on ``stract-reports serve`` (issue 12, item 3).

Starts the real-data simulator at LATENCY ms per call and ``serve`` with the given arguments
(its defaults when none), asks ``/geral`` once, then N clients ask ``/geral`` all at once, for
each N. Prints the upstream calls of the N over those of one (goal: at most 1.5), the answers
by status and the slowest answer. Arguments after ``--`` go to ``serve``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Sequence

import requests

from common import BENCH, CLI, HOST, free_port, simulator_process, started

GOLDEN = (BENCH.parent / "tests" / "golden" / "geral.csv").read_bytes()


def burst(url: str, clients: int) -> tuple[Counter[int], float]:
    """``clients`` GETs of ``url`` released together; statuses and the slowest wall time."""
    statuses: Counter[int] = Counter()
    walls: list[float] = []
    gate = threading.Barrier(clients)
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as http:
            gate.wait(timeout=30)
            start = time.perf_counter()
            response = http.get(url, timeout=120)
            with lock:
                statuses[response.status_code] += 1
                walls.append(time.perf_counter() - start)
                if response.status_code == 200 and response.content != GOLDEN:
                    statuses[-1] += 1  # a 200 with the wrong bytes

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return statuses, max(walls)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the bursts and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="20,200")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("serve_args", nargs="*")
    args = parser.parse_args(argv)
    with simulator_process(latency=args.latency_ms / 1000) as sim:
        port = free_port()
        serve = [CLI, "serve", "--host", HOST, "--port", str(port), "--api-url", sim.api_url]
        base = f"http://{HOST}:{port}"
        with started([*serve, *args.serve_args], f"{base}/healthz", name="report server"):
            sim.reset()
            one_status, one_wall = burst(f"{base}/geral", 1)
            one = sim.stats()["total"]
            print(
                f"serve {' '.join(args.serve_args) or '(defaults)'}, {args.latency_ms:g} ms per "
                f"call: one /geral = {one} upstream calls, {one_wall:.2f} s"
            )
            for clients in (int(n) for n in args.clients.split(",")):
                time.sleep(6)  # past the reuse window: the burst starts afresh
                sim.reset()
                statuses, slowest = burst(f"{base}/geral", clients)
                calls = sim.stats()["total"]
                print(
                    f"  {clients:4} at once: {calls} upstream calls = {calls / one:.2f}x one; "
                    f"answers {dict(statuses)}; slowest {slowest:.2f} s"
                )


if __name__ == "__main__":
    main()
