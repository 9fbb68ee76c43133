"""Throughput of ``serve`` by thread count (choosing the default): ``/geral/resumo`` requested
back to back by CLIENTS clients for SECONDS against the real-data simulator at LATENCY ms."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

from common import CLI, HOST, free_port, median, percentile, run_clients, simulator_process, started


def main(argv: Sequence[str] | None = None) -> None:
    """One line per (workers, threads)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="8,16,32,64")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--path", default="/geral/resumo")
    args = parser.parse_args(argv)
    with simulator_process(latency=args.latency_ms / 1000) as sim:
        for workers in args.workers.split(","):
            for threads in args.threads.split(","):
                port = free_port()
                base = f"http://{HOST}:{port}"
                serve = [CLI, "serve", "--host", HOST, "--port", str(port)]
                serve += ["--api-url", sim.api_url, "--workers", workers, "--threads", threads]
                with started(serve, f"{base}/healthz", name="report server"):
                    sim.reset()
                    samples = run_clients(
                        base, [args.path], clients=args.clients, seconds=args.seconds
                    )
                    calls = sim.stats()["total"]
                ok = [s.seconds for s in samples if s.status == 200]
                statuses = Counter(s.status for s in samples)
                print(
                    f"workers {workers} threads {threads:>3}: {len(ok) / args.seconds:6.1f} req/s "
                    f"200, median {median(ok) * 1000:5.0f} ms, p95 "
                    f"{percentile(ok, 95) * 1000:5.0f} ms, statuses {dict(statuses)}, "
                    f"upstream calls {calls}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
