"""``make bench``: every measure against its floor in one run; rewrites bench/results.md.

    python bench/run.py [--quick] [MEASURE ...]

A measure is a module here with a ``TITLE`` and ``run(out, quick)`` that prints what it found
and records each goal with ``out.goal``; add it to ``MEASURES``, or to ``SEPARATE`` to run it
only when named (``make load`` is ``run.py load``). Only a full run of every measure rewrites
results.md. The exit status is 1 when a measure could not measure.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import builds_memory
import coalescing
import filters
import html_page
import latency
import load
import memory
import overhead
import processes
import redaction
import scale
import slow_clients
import store
import threads
import throughput
from harness import Out, machine

MEASURES = {
    "latency": latency,
    "overhead": overhead,
    "scale": scale,
    "coalescing": coalescing,
    "throughput": throughput,
    "html": html_page,
    "builds": builds_memory,
    "slow-clients": slow_clients,
    "processes": processes,
    "redaction": redaction,
    "filters": filters,
    "store": store,
    "memory": memory,
}
SEPARATE = {"load": load, "threads": threads}


def main() -> int:
    """Run the named measures (by default all but the separate ones)."""
    # Both unwind the `with` blocks, which stop every process (even when started with SIGINT
    # ignored, as a shell does for background jobs).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    # [] among the choices: argparse checks the empty default against them too.
    parser.add_argument("measures", nargs="*", choices=[*MEASURES, *SEPARATE, []])
    args = parser.parse_args()
    out, start, failed = Out(), time.monotonic(), 0
    out("# stract-reports benchmarks", "", machine() + (", quick mode" if args.quick else ""), "")
    for name in args.measures or MEASURES:
        module = (MEASURES | SEPARATE)[name]
        out(f"## {module.TITLE}", "")
        try:
            module.run(out, args.quick)
        except Exception as exc:  # one measure failing must not hide the others
            failed += 1
            out(f"**{name} could not measure:** {type(exc).__name__}: {exc}", "")
            out.goals.append(f"{name} | could not measure | | | ✗")
    out("## Summary (the README's performance table)", "")
    out.table("measure | result | measured against | goal | ", out.goals)
    out(f"Total time: {time.monotonic() - start:.0f} s")
    if not args.quick and not args.measures:
        Path(__file__).with_name("results.md").write_text("\n".join(out.lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process started here has been stopped")
