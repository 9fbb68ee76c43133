"""12. The store: recording 300,000 ad rows, re-recording them unchanged, reading them back.

In one process, against a ``stract-reports simulator --synthetic`` process at 0 ms: the
product's own fetch reads every platform (the floor every goal is a ratio of), then the same
insight bodies are read raw, as the fetch layer will see them: their SHA-256 is each account's
``digest`` and their ``id`` values its ``ad_keys``. Then, on a SQLite file and on a PostgreSQL
cluster of its own (tests/pgserver.py; fsync off, as a test cluster is):

- the first recording: wall time against the fetch; the store's size against the same rows'
  ``/geral`` CSV (built and rendered in-process by the product's code);
- an unchanged re-recording: wall time, and ad rows written (counted in the database);
- the growth per unchanged snapshot, over 300 of them;
- reading back as of the first snapshot: time against decoding the same bodies with
  ``decode_json``, and against the live build from an already-fetched read (lay out, slice,
  render CSV); and what an ``as_of`` report (read back, then build) would cost.

Runs on its own (``python bench/run.py store``): the shipped server does not record yet.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from harness import PLAIN, TIMEOUT, BenchError, Out, simulator
from stract_reports.config import Settings
from stract_reports.records import PlatformData
from stract_reports.render.csv import render_csv
from stract_reports.reports.slicing import parse_slice, report_source, slice_report
from stract_reports.reports.spec import ReportSpec
from stract_reports.simulator import DEFAULT_TOKEN
from stract_reports.store import Store, open_store
from stract_reports.upstream import FetchLimits, StractClient, fetch_platforms, fetch_report_data
from stract_reports.upstream.decode import decode_json

sys.path.append(str(Path(__file__).parents[1] / "tests"))
import pgserver  # noqa: E402  (the tests' PostgreSQL cluster, reused)

TITLE = "12. The store: 300,000 ad rows recorded, re-recorded unchanged, read back"
# Enough to see past page sizes (4 KB in SQLite, 8 KB in PostgreSQL).
UNCHANGED = 300
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """``work()``'s result, wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def raw_bodies(api_url: str, data: list[PlatformData]) -> list[list[bytes]]:
    """Every account's insight body, as served (unpaginated here), in report order."""
    keys = {p.platform.value: ",".join(f.key for f in p.fields) for p in data}
    with requests.Session() as http:
        http.headers.update(PLAIN | {"Authorization": f"Bearer {DEFAULT_TOKEN}"})
        return [
            [
                http.get(
                    f"{api_url}/insights",
                    params={
                        "platform": p.platform.value,
                        "account": a.account.id,
                        "token": a.account.token,
                        "fields": keys[p.platform.value],
                    },
                    timeout=TIMEOUT,
                ).content
                for a in p.accounts
            ]
            for p in data
        ]


def live_build(data: list[PlatformData]) -> str:
    """``/geral`` as CSV from an already-fetched read, by the product's code."""
    ads, summary = report_source(data, ReportSpec(None))
    return render_csv(slice_report(ads, parse_slice(()), summary=summary)[0])


def size(store: Store) -> int:
    """Bytes the store takes: the SQLite file's pages (the WAL's included), or the tables with
    their indexes and TOAST."""
    with store.db.read() as tx:
        if store.dialect == "sqlite":
            return int(tx.value("PRAGMA page_count")) * int(tx.value("PRAGMA page_size"))
        return int(
            tx.value(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        )


def ad_rows(store: Store) -> tuple[int, int]:
    """Ad versions, and closed ones: what a recording wrote shows here."""
    with store.db.read() as tx:
        row = tx.row("SELECT count(*), count(closed) FROM ad_version")
    assert row is not None
    return int(row[0]), int(row[1])


def run(out: Out, quick: bool) -> None:
    """The measures of the module's docstring, on each database."""
    accounts, ads = (10, 100) if quick else (100, 1000)
    with simulator("--synthetic", f"{accounts},{ads}") as sim:
        settings = Settings(
            api_url=sim.api_url,
            api_token=DEFAULT_TOKEN,
            store_url="off",
            deadline=600,
            timeout=120,
            max_pages=100_000,
        )
        limits = FetchLimits.from_settings(settings)
        with StractClient(settings) as client:
            platforms = fetch_platforms(client, limits)
            data, fetch, _ = timed(lambda: fetch_report_data(client, None, limits))
        bodies = raw_bodies(sim.api_url, data)
    rows = sum(len(a.rows) for p in data for a in p.accounts)
    for platform, platform_bodies in zip(data, bodies, strict=True):
        for account, body in zip(platform.accounts, platform_bodies, strict=True):
            account.digest = hashlib.sha256(body).digest()
            account.ad_keys = [str(item["id"]) for item in decode_json(body)["insights"]]
    _, decode_wall, decode_cpu = timed(lambda: [decode_json(b) for p in bodies for b in p])
    csv_text, _, build_cpu = timed(lambda: live_build(data))
    csv_bytes = len(csv_text.encode("utf-8"))
    del csv_text
    out(
        f"{rows:,} ad rows; the product's fetch at 0 ms: {fetch:.2f} s; decoding their bodies "
        f"with decode_json: {decode_cpu:.2f} s CPU; the live /geral build from that read "
        f"(lay out, slice, CSV): {build_cpu:.2f} s CPU, {csv_bytes / 1e6:.1f} MB of CSV.",
        "",
    )
    args = (platforms, data, rows, fetch, csv_bytes, build_cpu, decode_wall)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = open_store(f"sqlite:///{Path(tmp) / 'store.sqlite3'}")
        assert sqlite is not None
        try:
            measure(out, "SQLite", sqlite, *args)
        finally:
            sqlite.close()
    reason = pgserver.missing()
    if reason is not None:
        out(f"PostgreSQL not measured: {reason}", "")
        return
    server = pgserver.PostgresServer().start()
    try:
        postgres = open_store(server.create_database())
        assert postgres is not None
        try:
            measure(out, "PostgreSQL", postgres, *args)
        finally:
            postgres.close()
    finally:
        server.remove()


def measure(
    out: Out,
    name: str,
    store: Store,
    platforms: list[Any],
    data: list[PlatformData],
    rows: int,
    fetch: float,
    csv_bytes: int,
    build_cpu: float,
    decode_wall: float,
) -> None:
    """One database's measures and goals."""
    record = store.snapshots.record
    empty = size(store)
    first, first_wall, first_cpu = timed(lambda: record(platforms, data, at=T0, trigger="record"))
    stored = size(store) - empty
    before = ad_rows(store)
    again, again_wall, _ = timed(
        lambda: record(platforms, data, at=T0 + timedelta(minutes=1), trigger="record")
    )
    written = ad_rows(store)[0] - before[0] + ad_rows(store)[1] - before[1]
    grown = size(store)
    for n in range(UNCHANGED):
        record(platforms, data, at=T0 + timedelta(minutes=2 + n), trigger="record")
    growth = (size(store) - grown) / UNCHANGED
    back, back_wall, back_cpu = timed(lambda: store.snapshots.as_of(T0))
    if [a.rows for p in back.data for a in p.accounts] != [
        a.rows for p in data for a in p.accounts
    ]:
        raise BenchError(f"{name}: the rows read back differ from the rows recorded")
    if (first.changed, again.changed) != (rows, 0):
        raise BenchError(f"{name}: changed ads {first.changed} then {again.changed}")
    out(
        f"**{name}**: first recording {first_wall:.2f} s wall ({first_cpu:.2f} s CPU here), "
        f"{stored / 1e6:.1f} MB; unchanged re-recording {again_wall * 1000:.0f} ms, "
        f"{written} ad rows written; {growth:,.0f} bytes per unchanged snapshot; read back "
        f"as of the first in {back_wall:.2f} s wall ({back_cpu:.2f} s CPU here; decoding the "
        f"bodies took {decode_wall:.2f} s).",
        "",
    )
    rows_text = f"{rows:,} rows"
    out.goal(
        f"{name}: first recording of {rows_text} / the fetch",
        first_wall / fetch,
        "≤ 1.00",
        f"fetch at 0 ms {fetch:.2f} s",
    )
    out.goal(
        f"{name}: unchanged re-recording / the fetch",
        again_wall / fetch,
        "≤ 0.10",
        f"fetch at 0 ms {fetch:.2f} s",
    )
    out.goal(f"{name}: ad rows written re-recording unchanged", written, "≤ 0", "—")
    out.goal(
        f"{name}: store growth per unchanged snapshot of {rows_text}",
        growth / 1000,
        "≤ 4.0 KB",
        f"mean of {UNCHANGED}",
    )
    out.goal(
        f"{name}: first snapshot / the CSV",
        stored / csv_bytes,
        "≤ 1.50",
        f"/geral CSV {csv_bytes / 1e6:.1f} MB",
    )
    # SQLite runs in this process: its CPU is ours. PostgreSQL works in its own processes:
    # wall time counts both sides of the one connection.
    cost, what = (back_cpu, "CPU") if store.dialect == "sqlite" else (back_wall, "wall")
    out(
        f"An as_of report would read back, then build: {(cost + build_cpu) / build_cpu:.2f}× "
        "the live build from an already-fetched read (a cache of the built table per "
        "snapshot, which never changes, brings a repeated one to the live build's cost).",
        "",
    )
    out.goal(
        f"{name}: reading back {rows_text} ({what}) / live build (CPU)",
        cost / build_cpu,
        "≤ 1.20",
        f"live build {build_cpu:.2f} s",
    )
