"""Load with upstream faults (issue 5, ``make load``): are 200s always the right report?

Starts two simulators of the same real data, one fault-free and one with injected faults, and
``stract-reports serve`` (gunicorn) pointed at the faulty one. Every report is first fetched
fault-free (the same app in this process, pointed at the fault-free simulator) as reference
bytes. Then N clients request a mix of reports, CSV and JSON, for S seconds.

Non-200 answers are allowed (an honest 502/503/504 when retries run out) and are printed. The
key figure is the number of 200 answers whose body differs from the fault-free report: it must
be 0. CSV bodies are compared byte for byte, JSON bodies after dropping ``generated_at``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from common import (
    BenchError,
    Sample,
    gunicorn_server,
    machine,
    mark,
    percentile,
    run_clients,
    simulator_process,
)
from stract_reports import create_app
from stract_reports.config import Settings
from stract_reports.simulator import real_dataset

DEFAULT_FAULTS = "500:p=0.02,429:p=0.01:retry_after=0,truncate:p=0.01,malformed:p=0.01"
_GENERATED_AT = re.compile(rb'"generated_at":"[^"]*",?')


def report_paths(platforms: Sequence[str]) -> list[str]:
    """Every report (general and per platform, ads and summary), as CSV and as JSON."""
    names = ["geral", *platforms]
    return [f"/{n}{s}{x}" for n in names for s in ("", "/resumo") for x in ("", ".json")]


def fingerprint(path: str, status: int, body: bytes) -> bytes:
    """A 200's digest (JSON without its timestamp); the start of any other answer's body."""
    if status != 200:
        return body[:300]
    if path.endswith(".json"):
        body = _GENERATED_AT.sub(b"", body, count=1)
    return hashlib.sha256(body).digest()


def references(api_url: str, paths: Sequence[str]) -> dict[str, bytes]:
    """The fingerprint of every report, served by this code from a fault-free upstream."""
    app = create_app(settings=Settings(api_url=api_url))
    try:
        http = app.test_client()
        found = {}
        for path in paths:
            response = http.get(path)
            if response.status_code != 200:
                raise BenchError(f"fault-free {path} answered {response.status_code}")
            found[path] = fingerprint(path, 200, response.get_data())
        return found
    finally:
        app.extensions["stract_client"].close()


def summary(
    samples: list[Sample], reference: dict[str, bytes], seconds: float, upstream: dict[str, Any]
) -> tuple[list[str], int]:
    """The lines to print, and how many 200s differ from the reference."""
    if not samples:
        raise BenchError("no request finished")
    statuses = Counter(s.status for s in samples)
    wrong = Counter(s.path for s in samples if s.status == 200 and s.kept != reference[s.path])
    latencies = [s.seconds for s in samples]
    lines = [
        f"requests            {len(samples)} ({len(samples) / seconds:.1f}/s)",
        "statuses            " + ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items())),
        f"latency             p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms",
        f"upstream calls      {upstream['total']} "
        f"({upstream['total'] / len(samples):.1f} per request)",
        "faults injected     "
        + (", ".join(f"{k}: {n}" for k, n in sorted(upstream["faults"].items())) or "none"),
    ]
    failures = {s.status: s for s in samples if s.status != 200}
    for status, sample in sorted(failures.items()):
        detail = (sample.kept or b"").decode(errors="replace").replace("\n", " ")
        lines.append(f"  e.g. {status} on {sample.path}: {detail[:200]}")
    lines.append(
        f"200s whose body differs from the fault-free report: {sum(wrong.values())} "
        f"(must be 0) {mark(not wrong)}"
    )
    lines += [f"  {path}: {n}" for path, n in sorted(wrong.items())]
    return lines, sum(wrong.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8, help="Client threads.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Duration of the load.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument("--threads", type=int, default=8, help="Threads per worker.")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="Upstream latency.")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="Simulator fault plan.")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 64 and 0 < args.seconds <= 600):
        parser.error("--clients must be 1..64 and --seconds 0..600")

    platforms = [p.value for p in real_dataset().platforms]
    paths = report_paths(platforms)
    latency = args.latency_ms / 1000
    print(
        f"load: {args.clients} clients × {args.seconds:g} s over {len(paths)} reports; "
        f"gunicorn {args.workers} workers × {args.threads} threads; upstream "
        f"{args.latency_ms:g} ms with faults {args.faults!r}; {machine()}",
        flush=True,
    )
    with simulator_process(latency=latency) as clean:
        reference = references(clean.api_url, paths)
    with (
        simulator_process("--faults", args.faults, latency=latency) as faulty,
        gunicorn_server(faulty.api_url, workers=args.workers, threads=args.threads) as server,
    ):
        faulty.reset()
        samples = run_clients(
            server.base, paths, clients=args.clients, seconds=args.seconds, keep=fingerprint
        )
        upstream = faulty.stats()
    lines, wrong = summary(samples, reference, args.seconds, upstream)
    print("\n".join(lines))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
