"""12. The store: recording's cost on a warm /geral; 300,000 ad rows recorded, re-recorded
unchanged, read back, and asked ``?as_of=``.

First, two ``serve`` processes with their defaults but one recording (the default store, a
SQLite file) and one not (``STRACT_STORE_URL=off``), both reading one simulator at 0 ms: warm
``/geral`` alternated between them, medians; recording must cost at most 5 % of the request.

Then in one process, against a ``stract-reports simulator --synthetic`` process at 0 ms: the
product's own read of every platform, its ads assembled as the pages arrive (the floor the
recording goals are ratios of), recorded as the server records it (``recording.record_now``:
each account's span digest, its rows filled in from the columns when it changed). Then, on a
SQLite file and on a PostgreSQL cluster of its own (tests/pgserver.py; fsync off, as a test
cluster is):

- the first recording: wall time against the fetch; the store's size against the same rows'
  ``/geral`` CSV (built and rendered in-process by the product's code);
- an unchanged re-recording: wall time, and ad rows written (counted in the database);
- the growth per unchanged snapshot, over 300 of them;
- reading back as of the first snapshot: time against the live build from an already-fetched
  read (lay out, slice, render CSV);
- ``?as_of=`` as the server answers it (``history.Past``: locate the snapshots, read them back
  and lay them out; slice; render CSV) the first time, against that live build: the goal.
  Asked again it is served from the cache of sources read back (slice, render): that figure is
  printed too, and listed in the summary as no goal. Then the first ask once more, step by
  step (read back, lay out, slice and CSV), to show where its time goes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from harness import BenchError, Out, get, serve, session, simulator
from stract_reports.config import Settings
from stract_reports.history import Past, SourceCache
from stract_reports.pipeline import Source, read_assembled, slice_source, source_of
from stract_reports.recording import record_now
from stract_reports.records import Read
from stract_reports.render.csv import render_csv
from stract_reports.reports.collector import gc_paused
from stract_reports.reports.ingest import AdColumns
from stract_reports.reports.spec import ReportSpec
from stract_reports.simulator import DEFAULT_TOKEN
from stract_reports.store import SnapshotInfo, Store, open_store
from stract_reports.upstream import StractClient

sys.path.append(str(Path(__file__).parents[1] / "tests"))
import pgserver  # noqa: E402  (the tests' PostgreSQL cluster, reused)
import support  # noqa: E402

# The tests' guard against unmarked tests starting a server: this is no test.
support.RUNNING_MARKS.add("postgres")

TITLE = "12. The store: recording on a warm /geral; 300,000 ad rows recorded and read back"
# Enough to see past page sizes (4 KB in SQLite, 8 KB in PostgreSQL).
UNCHANGED = 300
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """``work()``'s result, wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


GENERAL = ReportSpec(None)


def live_build(assembled: AdColumns, values: list[str]) -> str:
    """``/geral`` as CSV from an already-fetched read (its assembled ads), by the product's
    code."""
    return render_csv(slice_source(source_of(assembled, GENERAL, values))[0])


def recording_overhead(out: Out, quick: bool) -> None:
    """Warm /geral from a server that records and one that does not, alternated."""
    repeat = 15 if quick else 61
    with (
        simulator() as sim,
        serve(sim.api_url) as recording,
        serve(sim.api_url, env={"STRACT_STORE_URL": "off"}) as plain,
        session() as http,
    ):
        for server in (recording, plain):  # connections open, the shape known, the first read
            get(http, f"{server.base}/geral")  # recorded
        withs, withouts = [], []
        for _ in range(repeat):
            withs.append(get(http, f"{recording.base}/geral")[0])
            withouts.append(get(http, f"{plain.base}/geral")[0])
    wall, floor = median(withs) * 1000, median(withouts) * 1000
    out(
        f"Warm /geral at 0 ms: {wall:.1f} ms recording each read (unchanged: one snapshot "
        f"row and one per platform), {floor:.1f} ms with the store off (medians of {repeat}, "
        "alternated).",
        "",
    )
    out.goal(
        "recording on a warm /geral at 0 ms: its share of the request",
        max(0.0, wall - floor) / floor,
        "≤ 0.05",
        f"store off {floor:.1f} ms",
    )


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
    recording_overhead(out, quick)
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
        with StractClient(settings) as client:
            (read, assembled), fetch, _ = timed(lambda: read_assembled(client, None))
    rows = len(assembled)
    values = [p.platform.value for p in read.data]
    csv_text, _, build_cpu = timed(lambda: live_build(assembled, values))
    csv_bytes = len(csv_text.encode("utf-8"))
    out(
        f"{rows:,} ad rows; the product's fetch at 0 ms: {fetch:.2f} s; the live /geral build "
        f"from that read (lay out, slice, CSV): {build_cpu:.2f} s CPU, "
        f"{csv_bytes / 1e6:.1f} MB of CSV.",
        "",
    )
    args = (read, assembled, rows, fetch, csv_bytes, build_cpu, csv_text)
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
    read: Read,
    assembled: AdColumns,
    rows: int,
    fetch: float,
    csv_bytes: int,
    build_cpu: float,
    live_csv: str,
) -> None:
    """One database's measures and goals."""

    def record(at: datetime) -> SnapshotInfo:
        return record_now(store, replace(read, at=at), assembled, "record")

    empty = size(store)
    first, first_wall, first_cpu = timed(lambda: record(T0))
    stored = size(store) - empty
    before = ad_rows(store)
    again, again_wall, _ = timed(lambda: record(T0 + timedelta(minutes=1)))
    written = ad_rows(store)[0] - before[0] + ad_rows(store)[1] - before[1]
    grown = size(store)
    for n in range(UNCHANGED):
        record(T0 + timedelta(minutes=2 + n))
    growth = (size(store) - grown) / UNCHANGED
    back, back_wall, back_cpu = timed(lambda: store.snapshots.as_of(T0))
    if sum(len(a.rows) for p in back.data for a in p.accounts) != rows:
        raise BenchError(f"{name}: not every row read back")
    if (first.changed, again.changed) != (rows, 0):
        raise BenchError(f"{name}: changed ads {first.changed} then {again.changed}")
    out(
        f"**{name}**: first recording {first_wall:.2f} s wall ({first_cpu:.2f} s CPU here), "
        f"{stored / 1e6:.1f} MB; unchanged re-recording {again_wall * 1000:.0f} ms, "
        f"{written} ad rows written; {growth:,.0f} bytes per unchanged snapshot; read back "
        f"as of the first in {back_wall:.2f} s wall ({back_cpu:.2f} s CPU here).",
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
    out.goal(
        f"{name}: reading back {rows_text} ({what}) / live build (CPU)",
        cost / build_cpu,
        "≤ 1.20",
        f"live build {build_cpu:.2f} s",
    )
    as_of(out, name, store, first.taken_at, build_cpu, live_csv, rows_text)


def as_of(
    out: Out,
    name: str,
    store: Store,
    when: datetime,
    build_cpu: float,
    live_csv: str,
    rows_text: str,
) -> None:
    """``?as_of=`` as the server answers it, cold and from the cache, against the live build."""
    past = Past(store, SourceCache(), lambda key, build: build(), _no_live)

    def answer() -> str:
        state = past.state_at(GENERAL, when, identify=False)
        return render_csv(slice_source(state.source)[0])

    cold, cold_wall, cold_cpu = timed(answer)
    warm, _, warm_cpu = timed(answer)
    if cold != live_csv or warm != live_csv:
        raise BenchError(f"{name}: the as_of CSV differs from the live one")
    # SQLite works in this process; PostgreSQL in its own: its cold answer is counted by wall.
    cold_cost, what = (cold_cpu, "CPU") if store.dialect == "sqlite" else (cold_wall, "wall")
    out(
        f"{name}: ?as_of= the first time (locate, read back, lay out, slice, CSV) "
        f"{cold_cost:.2f} s {what} ({cold_cost / build_cpu:.2f}× the live build); again, "
        f"from the cache of sources read back: {warm_cpu:.2f} s CPU "
        f"({warm_cpu / build_cpu:.2f}×); the bytes equal the live CSV's.",
        "",
    )
    # The goal is the first ask: a snapshot nobody asked for yet is read back, laid out and
    # sliced. A repeated ask is served from the cache (slicing alone): shown, not the goal.
    out.goal(
        f"{name}: ?as_of= on {rows_text}, the first time ({what}) / live build (CPU)",
        cold_cost / build_cpu,
        "≤ 1.20",
        f"live build {build_cpu:.2f} s",
    )
    out.goals.append(
        f"{name}: ?as_of= again, from the cache (CPU) / live build (CPU), not a goal | "
        f"{warm_cpu / build_cpu:.2f} | live build {build_cpu:.2f} s | — | "
    )
    read_cost, layout_cpu, slice_cpu = cold_parts(store, when, live_csv)
    out(
        f"{name}: where the first ask goes (once more, step by step): reading the snapshot back "
        f"{read_cost:.2f} s {what}, laying it out {layout_cpu:.2f} s CPU, slicing and CSV "
        f"{slice_cpu:.2f} s CPU.",
        "",
    )


def cold_parts(store: Store, when: datetime, live_csv: str) -> tuple[float, float, float]:
    """A first ``?as_of=`` in its steps, as ``history.Past`` takes them: the snapshot read
    back (wall time on PostgreSQL, whose work is in its own processes), laid out, sliced and
    rendered."""
    located = store.snapshots.locate(when)
    with gc_paused():  # as history.Past builds it
        data, read_wall, read_cpu = timed(lambda: store.snapshots.read(located, literals=True).data)
        values = [p.platform.value for p in data]
        source, _, layout_cpu = timed(lambda: source_of(data, GENERAL, values))
    csv_text, _, slice_cpu = timed(lambda: render_csv(slice_source(source)[0]))
    if csv_text != live_csv:
        raise BenchError("the as_of CSV, step by step, differs from the live one")
    return (read_cpu if store.dialect == "sqlite" else read_wall), layout_cpu, slice_cpu


def _no_live() -> Source:
    raise BenchError("as_of never reads live")
