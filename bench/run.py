"""``make bench``: every measure against its floor, in one run; rewrites bench/results.md.

    python bench/run.py [--quick] [MEASURE ...]

A measure is a module here with a ``TITLE`` and ``run(out, quick)`` that prints what it found
and records each goal with ``out.goal``; add it to ``MEASURES`` (or ``SEPARATE``, run only
when named: ``make load`` is ``run.py load``). Times are medians; ratios compare measurements
of this one run. Only a full run of every measure rewrites results.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import ModuleType

import coalescing
import html_page
import latency
import load
import overhead
import scale
import throughput
from harness import Out, machine

MEASURES = {
    "latency": latency,
    "overhead": overhead,
    "scale": scale,
    "coalescing": coalescing,
    "throughput": throughput,
    "html": html_page,
}
SEPARATE: dict[str, ModuleType] = {"load": load}
RESULTS = Path(__file__).with_name("results.md")


def main(argv: list[str] | None = None) -> int:
    """Run the named measures (default: all but the separate ones); 1 if any could not run."""
    # SIGTERM unwinds like Ctrl+C, so every `with` block stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes, for development.")
    parser.add_argument("measures", nargs="*", choices=[*MEASURES, *SEPARATE, []])
    args = parser.parse_args(argv)
    out, start, failed = Out(), time.monotonic(), 0
    out(
        "# stract-reports benchmarks",
        "",
        machine() + (" — **quick mode**" if args.quick else ""),
        "",
    )
    for name in args.measures or MEASURES:
        module = (MEASURES | SEPARATE)[name]
        out(f"## {module.TITLE}", "")
        try:
            module.run(out, args.quick)
        except Exception as exc:  # one measure failing must not hide the others' results
            failed += 1
            out(f"**{name} could not measure:** {type(exc).__name__}: {exc}", "")
            out.goals.append([name, "failed", "", "", "✗"])
    out("## Summary", "", "The README's performance table:", "")
    out.table(["measure", "result", "measured against", "goal", ""], out.goals)
    out(f"Total time: {time.monotonic() - start:.0f} s")
    if not args.quick and not args.measures:
        RESULTS.write_text("\n".join(out.lines) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
