"""The floor a report is measured against: a plain client making the same upstream calls.

It reads every page as a lean solution would (requests, ``json`` parsed in the threads, so
parsing overlaps the downloads), each step's calls at once on a pool of threads: the platform
list; page 1 of accounts and fields; their other pages; every account's insights; their other
pages. ``csv.writer`` is timed on up to 100,000 of the rows and scaled to all of them (it is
linear, and all rows at once would take gigabytes of the benchmark's own memory).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import requests

from harness import PLAIN, TIMEOUT
from stract_reports.simulator import DEFAULT_TOKEN

SAMPLE_ROWS = 100_000
Call = tuple[str, dict[str, str]]  # endpoint, query


class Floor(NamedTuple):
    """Rows read, seconds to download and parse them, seconds to write them as CSV."""

    rows: int
    fetch: float
    csv: float


class PlainClient(ThreadPoolExecutor):
    """The plain client: a pool of threads, each with its own kept-alive connection."""

    def __init__(self, api_url: str, threads: int) -> None:
        super().__init__(threads)
        self.api_url, self.local = api_url, threading.local()

    def get(self, endpoint: str, query: dict[str, str]) -> dict[str, Any]:
        """One API call, parsed."""
        if not hasattr(self.local, "http"):
            self.local.http = requests.Session()
            self.local.http.headers.update(PLAIN | {"Authorization": f"Bearer {DEFAULT_TOKEN}"})
        response = self.local.http.get(f"{self.api_url}/{endpoint}", params=query, timeout=TIMEOUT)
        response.raise_for_status()
        return dict(response.json())

    def pages(self, calls: list[Call], keep: Callable[[int, list[Any]], Any]) -> list[list[Any]]:
        """``keep(call index, items)`` of every page of every call, run in the threads: page 1
        of all calls at once, then all their other pages at once."""

        def one(job: tuple[int, str, dict[str, str]]) -> tuple[int, Any, int]:
            index, endpoint, query = job
            body = self.get(endpoint, query)
            pages = int((body.get("pagination") or {}).get("total", 1))
            return index, keep(index, body[endpoint]), pages

        firsts = list(self.map(one, [(i, *call) for i, call in enumerate(calls)]))
        found = [[kept] for _, kept, _ in firsts]
        later = [
            (i, calls[i][0], calls[i][1] | {"page": str(n)})
            for i, _, pages in firsts
            for n in range(2, pages + 1)
        ]
        for index, kept, _ in self.map(one, later):
            found[index].append(kept)
        return found

    def read(self) -> Floor:
        """Read every row; time it, and writing their CSV."""
        start = time.perf_counter()
        platforms = [p["value"] for p in self.get("platforms", {})["platforms"]]
        listing = [(kind, {"platform": p}) for p in platforms for kind in ("accounts", "fields")]
        found = [
            [x for page in pages for x in page] for pages in self.pages(listing, lambda _, i: i)
        ]
        insights: list[Call] = []
        where: list[tuple[str, str, list[str]]] = []
        for n, p in enumerate(platforms):
            keys = [f["value"] for f in found[2 * n + 1]]
            for a in found[2 * n]:
                query = dict(platform=p, account=a["id"], token=a["token"], fields=",".join(keys))
                insights.append(("insights", query))
                where.append((p, a["name"], keys))
        sample: list[list[Any]] = []

        def keep(index: int, rows: list[dict[str, Any]]) -> int:
            platform, name, keys = where[index]
            if len(sample) < SAMPLE_ROWS:  # threads may interleave rows: harmless in a sample
                sample.extend([platform, name, *(r.get(k) for k in keys)] for r in rows)
            return len(rows)

        rows = sum(sum(counts) for counts in self.pages(insights, keep))
        fetch, start = time.perf_counter() - start, time.perf_counter()
        csv.writer(io.StringIO()).writerows(sample)
        return Floor(rows, fetch, (time.perf_counter() - start) * rows / max(1, len(sample)))
