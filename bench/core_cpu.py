"""CPU per row of the pure report core: build /geral and /geral/resumo and render CSV and JSON.

In-process, no HTTP: the synthetic dataset's rows go through the upstream's JSON decoder once
(so values arrive as they do in production: int, Decimal, str), then each stage is timed.

    .venv/bin/python bench/core_cpu.py [ACCOUNTS [ADS]]     # default 100 accounts x 1000 ads

Measured on the 2-core development machine, 300,000 rows (µs of CPU per row):
before (bdb59bf): build 2.1, CSV 3.5, JSON 6.5, first build + CSV 5.6; 900k rows 6.6.
after: build 1.7-2.0, CSV 2.2, JSON (render_json) 2.2-2.6, first build + CSV 4.1; 900k 4.3.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.render import render
from stract_reports.render.csv import csv_chunks
from stract_reports.render.json import render_json
from stract_reports.reports import general_ads, general_summary
from stract_reports.simulator import synthetic_dataset
from stract_reports.upstream.client import decode_json


def fetched(accounts: int, ads: int) -> list[PlatformData]:
    """What the fetch layer hands the report core for the synthetic dataset."""
    out = []
    for p in synthetic_dataset(accounts, ads).platforms:
        keys = [f["value"] for f in p.fields]
        data = PlatformData(
            Platform(p.value, p.text), [Field(f["value"], f["text"]) for f in p.fields], []
        )
        for a in p.accounts:
            items = decode_json(json.dumps(p.insight_rows(a), default=float).encode())
            rows = [tuple(map(item.get, keys)) for item in items]
            data.accounts.append(AccountData(Account(a.id, a.name, a.token), rows))
        out.append(data)
    return out


def timed(label: str, rows: int, work: Callable[[], Any], repeat: int = 5) -> Any:
    """Run ``work`` a few times (the machine is shared: the best run is the cost), print its
    CPU time per row, garbage collection included, and return its result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        gc.collect(0)  # the young generation's collection the work left due, counted with it
        best = min(best, time.process_time() - start)
        del result
    print(f"{label:<28} {best:7.3f} s  {best / rows * 1e6:6.2f} us/row")
    return work()


def main() -> None:
    accounts, ads = (int(a) for a in (sys.argv[1:] + ["100", "1000"][len(sys.argv[1:]) :]))
    data = fetched(accounts, ads)
    rows = sum(len(a.rows) for p in data for a in p.accounts)
    print(f"{rows} ad rows")
    moment = datetime(2025, 2, 1, tzinfo=UTC)
    # As in a server: the fetched data is young, and the first report is built over it.
    start = time.process_time()
    body = b"".join(csv_chunks(general_ads(data)))
    spent = time.process_time() - start
    print(f"{'first /geral, build + csv':<28} {spent:7.3f} s  {spent / rows * 1e6:6.2f} us/row")
    del body
    gc.collect()
    table = timed("build /geral", rows, lambda: general_ads(data))
    timed("render /geral csv", rows, lambda: render(table, "csv", generated_at=moment))
    timed("render /geral json", rows, lambda: render(table, "json", generated_at=moment))
    timed("render_json /geral", rows, lambda: render_json(table, moment))
    timed("build /geral/resumo", rows, lambda: general_summary(data))
    total = timed(
        "build + csv /geral",
        rows,
        lambda: render(general_ads(data), "csv", generated_at=moment),
    )
    del total


if __name__ == "__main__":
    main()
