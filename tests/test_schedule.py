"""Recording from the command line and on a schedule, with real processes: two ``serve``
processes on one PostgreSQL record each interval once; ``stract-reports record`` for cron;
``export`` records its read and reads the past; ``serve`` refuses a store newer than itself;
the demo records into a store of its own."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner

from served import serve
from stract_reports.cli import main
from stract_reports.history_query import exact_time
from stract_reports.simulator import Simulator
from stract_reports.store import Store, interval_start, open_store, upstream_identity
from support import CLI, free_port, golden, require_mark

EVERY = timedelta(seconds=2)


def history(store_url: str, api_url: str) -> Store:
    store = open_store(store_url, upstream=upstream_identity(api_url))
    assert store is not None
    return store


@pytest.mark.serve
@pytest.mark.postgres
def test_two_serve_processes_on_one_postgres_record_each_interval_once(
    simulator: Simulator, pg_url: str
) -> None:
    env = {"STRACT_STORE_URL": pg_url, "STRACT_RECORD_EVERY": "2s"}
    with serve(simulator.url, env=env) as one, serve(simulator.url, env=env) as other:
        time.sleep(7.5)
        assert one.stop() == 0 and other.stop() == 0
        logs = one.log() + other.log()
    store = history(pg_url, simulator.url)
    try:
        scheduled = [
            s for s in store.snapshots.page(limit=100).snapshots if s.trigger == "schedule"
        ]
        with store.db.read() as tx:
            claims = int(tx.value("SELECT count(*) FROM record_claim"))
    finally:
        store.close()
    intervals = [interval_start(s.taken_at, EVERY) for s in scheduled]
    assert len(scheduled) >= 3
    assert len(set(intervals)) == len(intervals)  # never two recordings of one interval
    assert claims == len(scheduled)  # each claimed interval recorded, by the one that won it
    assert logs.count("recording schedule: read 3 platform(s)") == len(scheduled)
    assert all(s.ads == 66 for s in scheduled)


def run(*args: str, env: dict[str, str]) -> tuple[int, bytes, str]:
    """``stract-reports ARGS``: its exit code, its output's bytes, its error lines."""
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_record_reads_every_platform_once_and_says_so_in_one_line(
    simulator: Simulator, store_url: str
) -> None:
    env = {"STRACT_API_URL": simulator.url, "STRACT_STORE_URL": store_url}
    code, out, err = run("record", env=env)
    line = re.fullmatch(rb"recorded (\S+): 3 platform\(s\), 19 accounts, 66 ads, 66 changed\n", out)
    assert (code, err) == (0, "") and line, out
    code, out, _ = run("record", env=env)
    assert code == 0 and out.endswith(b"66 ads, 0 changed\n")
    store = history(store_url, simulator.url)
    try:
        triggers = [s.trigger for s in store.snapshots.page().snapshots]
    finally:
        store.close()
    assert triggers == ["record", "record"]


def test_record_without_a_store_or_an_upstream_fails_in_one_line(
    simulator: Simulator, tmp_path: Path
) -> None:
    code, out, err = run("record", env={"STRACT_API_URL": simulator.url, "STRACT_STORE_URL": "off"})
    assert (code, out) == (1, b"")
    assert (
        err.startswith("stract-reports: bad request: history needs the store")
        and err.count("\n") == 1
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run(
        "record",
        env={
            "STRACT_API_URL": "http://127.0.0.1:9/api",
            "STRACT_STORE_URL": url,
            "STRACT_RETRIES": "0",
        },
    )
    assert (code, out) == (1, b"") and err.count("\n") == 1 and "upstream" in err
    assert "Traceback" not in err


def test_a_store_newer_than_the_program_stops_serve_and_record_in_one_line(
    simulator: Simulator, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    assert store is not None
    with store.db.write() as tx:
        tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)")
    store.close()
    env = {"STRACT_API_URL": simulator.url, "STRACT_STORE_URL": url}
    code, _, err = run("record", env=env)
    assert code == 1 and "schema version 99, newer than this stract-reports" in err
    code, _, err = run("serve", "--port", str(free_port()), env=env)
    assert code == 2 and err.startswith("stract-reports: the store (") and err.count("\n") == 1


def test_export_records_its_read_and_reads_the_past(simulator: Simulator, store_url: str) -> None:
    env = {"STRACT_API_URL": simulator.url, "STRACT_STORE_URL": store_url}
    code, out, err = run("export", "geral/resumo", env=env)
    assert code == 0 and out == golden("geral/resumo"), err
    store = history(store_url, simulator.url)
    try:
        (snapshot,) = store.snapshots.page().snapshots
    finally:
        store.close()
    assert snapshot.trigger == "export" and snapshot.ads == 66
    when = quote(exact_time(snapshot.taken_at))
    code, out, err = run("export", f"geral.csv?as_of={when}", env=env)
    assert code == 0 and out == golden("geral"), err
    code, out, err = run("export", f"geral/resumo.json?since={when}&_grain=day", env=env)
    assert code == 0 and b'"grain":"day"' in out
    code, out, err = run("export", "geral?as_of=tomorrow", env=env)
    assert code == 1 and err.startswith("stract-reports: bad request: as_of 'tomorrow' is no time")
    code, out, err = run("export", "geral/resumo?ratios=sum", "--ratios", "recompute", env=env)
    assert code == 1 and "ratios is given twice: --ratios recompute and ratios=sum" in err


@pytest.mark.serve
def test_the_demo_records_into_a_store_of_its_own() -> None:
    require_mark("serve")
    folder = Path(tempfile.gettempdir())
    before = set(folder.glob("stract-demo-*"))
    port = free_port()
    demo = subprocess.Popen(
        [CLI, "demo", "--port", str(port), "--latency-ms", "0"],
        env={k: v for k, v in os.environ.items() if not k.startswith("STRACT_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the demo never answered"
                time.sleep(0.1)
        mine = set(folder.glob("stract-demo-*")) - before
        assert len(mine) == 1
        assert requests.get(f"{base}/geral", timeout=10).status_code == 200
        deadline = time.monotonic() + 10
        while not (listed := requests.get(f"{base}/history.json", timeout=10).json()["snapshots"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # The schedule records at start, each report records its read.
        assert {s["trigger"] for s in listed} <= {"schedule", "request"}
        assert requests.get(f"{base}/readyz", timeout=10).json()["store"] == "ok"
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        assert demo.stdout is not None
        out = demo.stdout.read()
        demo.stdout.close()
    assert "History:  " in out and "/history" in out
    assert not any(path.exists() for path in mine)  # removed at exit
