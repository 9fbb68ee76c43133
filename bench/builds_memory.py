"""Peak memory of ``serve`` under distinct large reports at once, by ``--max-builds`` (issue 9,
item 11): what the cap buys.

Starts the simulator with synthetic data (ACCOUNTS,ADS per platform; 100,1000 = 300,000 ads)
and, for each cap, a fresh ``serve --max-builds CAP``; sends the CLIENTS distinct reports
(``/geral`` and ``/geral/resumo``, each platform's, with both ratio modes) at once and prints
the server's peak RSS, the answers by status and the wall time.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import requests

from common import CLI, HOST, free_port, simulator_process, started

PATHS = [
    f"/{name}{summary}?ratios={ratios}"
    for name in ("geral", "meta_ads", "ga4", "tiktok_insights")
    for summary in ("", "/resumo")
    for ratios in ("recompute", "sum")
]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def burst(base: str, paths: Sequence[str]) -> Counter[int]:
    """GET every path at once; the answers by status."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(paths))

    def get(path: str) -> None:
        barrier.wait(30)
        status = requests.get(base + path, timeout=600).status_code
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=get, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(900)
    return statuses


def main(argv: Sequence[str] | None = None) -> None:
    """One line per cap."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", default="100,1000")
    parser.add_argument("--caps", default="1,2,4,8,16")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    paths = PATHS[: args.clients]
    with simulator_process("--synthetic", args.synthetic) as sim:
        for cap in (int(c) for c in args.caps.split(",")):
            port = free_port()
            base = f"http://{HOST}:{port}"
            serve = [CLI, "serve", "--host", HOST, "--port", str(port), "--api-url", sim.api_url]
            serve += ["--max-builds", str(cap), "--deadline", "300", "--timeout", "120"]
            with started(serve, f"{base}/healthz", name="report server") as proc:
                start = time.perf_counter()
                statuses = burst(base, paths)
                wall = time.perf_counter() - start
                print(
                    f"max_builds {cap:2}: {len(paths)} distinct reports at once -> peak RSS "
                    f"{peak_rss_mb(proc.pid):6.0f} MB, answers {dict(sorted(statuses.items()))}, "
                    f"{wall:.1f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
