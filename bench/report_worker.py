"""Serve one report a few times in this fresh process; print what it cost this process, as JSON.

``run.py`` starts one per dataset size, with the simulator in another process, so the wall time,
CPU time and peak RSS printed here belong to the report server alone. The report goes through
the whole Flask app (views, renderers), only without a socket in front of it.

With ``--profile``, cProfile records every thread of the process (the upstream pool's threads
too: that is where JSON bodies are decoded) and the hot spots are added to the output.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import threading
import time
from typing import Any

from stract_reports import create_app
from stract_reports.config import Settings

# Hot spots are reported for the report code and for the stdlib modules it leans on.
OWN_CODE = ("stract_reports",)
STDLIB_OF_INTEREST = ("json", "csv", "decimal")
OWN_TOP, CUMULATIVE_TOP = 6, 8


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ThreadProfiles:
    """cProfile for the calling thread and for every thread started while it is active.

    Each thread is timed by its own CPU clock (``time.thread_time``): waiting for the network,
    a lock or the GIL costs nothing, so the hot spots are where the CPU goes.
    """

    def __init__(self) -> None:
        self.profiles = [cProfile.Profile(time.thread_time)]

    def _adopt_thread(self, *_: Any) -> None:
        # Runs as the first profile event of a new thread: hand the thread its own profiler.
        profile = cProfile.Profile(time.thread_time)
        self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfiles:
        threading.setprofile(self._adopt_thread)
        self.profiles[0].enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.profiles[0].disable()
        threading.setprofile(None)

    def stats(self) -> pstats.Stats:
        """All threads' records merged."""
        merged = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            merged.add(profile)
        return merged


def _where(key: tuple[str, int, str]) -> str:
    file, line, function = key
    if file == "~":
        return function
    for marker in ("/site-packages/", "/src/", "/lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "/lib/python3.":
                file = file.split("/", 1)[1]
            break
    return f"{file}:{line}({function})"


def hot_spots(stats: pstats.Stats) -> dict[str, list[dict[str, Any]]]:
    """The top functions by own time (report code and json/csv/decimal) and by cumulative
    time (report code only: the whole call chain, from the view down)."""
    table: dict[tuple[str, int, str], tuple] = stats.stats  # type: ignore[attr-defined]

    def entry(key: tuple[str, int, str]) -> dict[str, Any]:
        _, calls, own, cumulative, _ = table[key]
        return {"function": _where(key), "calls": calls, "own": own, "cumulative": cumulative}

    def ours(key: tuple[str, int, str]) -> bool:
        return any(m in key[0] for m in OWN_CODE)

    def of_interest(key: tuple[str, int, str]) -> bool:
        return ours(key) or any(m in key[0] + key[2] for m in STDLIB_OF_INTEREST)

    by_own = sorted(filter(of_interest, table), key=lambda k: table[k][2], reverse=True)
    by_cumulative = sorted(filter(ours, table), key=lambda k: table[k][3], reverse=True)
    return {
        "own": [entry(k) for k in by_own[:OWN_TOP]],
        "cumulative": [entry(k) for k in by_cumulative[:CUMULATIVE_TOP]],
    }


def measure(api_url: str, report: str, repeat: int) -> dict[str, Any]:
    """Wall time and process CPU time of each request, rows, and peak RSS."""
    app = create_app(settings=Settings(api_url=api_url, timeout=120.0, deadline=600.0))
    http = app.test_client()
    result: dict[str, Any] = {"rss_before_mb": peak_rss_mb(), "walls": [], "cpu": []}
    try:
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            response = http.get(f"/{report}")
            result["walls"].append(time.perf_counter() - wall)
            result["cpu"].append(time.process_time() - cpu)
            if response.status_code != 200:
                raise RuntimeError(f"/{report} answered {response.status_code}")
            # The CSV ends each row with \r\n; newlines quoted inside cells are a bare \n.
            result["rows"] = response.get_data().count(b"\r\n") - 1
            del response
    finally:
        app.extensions["stract_client"].close()
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("api_url")
    parser.add_argument("--report", default="geral")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="Profile one request.")
    args = parser.parse_args(argv)
    if args.profile:
        # Entered before the app exists: the upstream pool's threads start inside the block.
        with ThreadProfiles() as profiler:
            result = measure(args.api_url, args.report, 1)
        result["hot_spots"] = hot_spots(profiler.stats())
    else:
        result = measure(args.api_url, args.report, args.repeat)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
