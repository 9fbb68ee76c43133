"""Recording what reports read: the fetch hands over the whole read (platform list, ad ids, a
digest of the bodies), a complete read is recorded off the response path and a failed one
never, and a store that is locked, full, down, or not there at start never costs a report
anything: the reports stay live and byte for byte what a server without a store answers,
/readyz says so, and one line is logged each time the store's state changes."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from pgserver import PostgresServer
from stract_reports.config import Settings
from stract_reports.extensions import app_store
from stract_reports.pipeline import read_assembled, slice_source, source_of
from stract_reports.recording import record_now
from stract_reports.render.csv import render_csv
from stract_reports.reports.spec import ReportSpec
from stract_reports.simulator import (
    FaultRule,
    Growth,
    Simulator,
    real_dataset,
    synthetic_dataset,
)
from stract_reports.store import SnapshotInfo, open_store
from stract_reports.store.db import SQLiteDatabase
from stract_reports.upstream import FetchLimits, StractClient, fetch_report_data
from support import REPORTS, golden, recorded_form

START = 1_000_000.0


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.05)


def recorded(app: Flask) -> list[SnapshotInfo]:
    link = app_store(app)
    assert link.flush()
    assert link.store is not None
    return link.store.snapshots.page(limit=1000).snapshots


def state_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The store's lines about its state, in order (the words before the first colon)."""
    return [
        r.getMessage().split(":")[0]
        for r in caplog.records
        if r.name == "stract_reports.store"
        and r.getMessage().startswith(
            ("store unwritable", "store writable again", "store unr", "store reachable")
        )
    ]


@pytest.fixture
def caplog_store(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="stract_reports.store")
    return caplog


# What the fetch hands over.


def test_a_live_read_is_recorded_from_its_columns_as_the_report_shows_it(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    dataset = synthetic_dataset(2, 5, seed=3, insights_page_size=2)  # 3 pages an account
    meta = dataset.platforms[0]
    for account in meta.accounts:
        account.insights = meta.insight_rows(account)
    meta.row_source = None
    first = meta.accounts[0].insights
    assert first is not None
    first[4] = {**first[4], "id": first[0]["id"]}  # an id twice
    sim = make_simulator(dataset)
    settings = Settings(api_url=sim.url, store_url="off")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", upstream="x")
    assert store is not None
    try:
        with StractClient(settings) as client:
            read, assembled = read_assembled(client, None)
            again, reassembled = read_assembled(client, None)
        assert [p.value for p in read.platforms] == [p.value for p in dataset.platforms]
        # The digests of its accounts: the same data, the same digests.
        assert [s.digest for s in assembled.spans] == [s.digest for s in reassembled.spans]
        assert len({s.digest for s in assembled.spans}) == len(assembled.spans)
        info = record_now(store, read, assembled, "record")
        assert (info.ads, info.changed) == (len(assembled), len(assembled))
        back = store.snapshots.as_of(info.taken_at)
        # Laid out again, the recorded rows give the live report's bytes.
        values = [p.value for p in read.platforms]
        for spec in (ReportSpec(None), ReportSpec(None, summary=True)):
            live = render_csv(slice_source(source_of(assembled, spec, values))[0])
            past = render_csv(slice_source(source_of(back.data, spec, values))[0])
            assert past == live
        keys = back.data[0].accounts[0].ad_keys
        ids = [str(row["id"]) for row in first]
        assert keys == [*ids[:4], f"{ids[0]}#2"]
        # Recorded again unchanged: no row is read from the columns, none written.
        info = record_now(store, again, reassembled, "record")
        assert info.changed == 0
    finally:
        store.close()


def test_a_report_is_recorded_with_what_it_read(
    make_app: Callable[..., Flask], simulator: Simulator, store_url: str
) -> None:
    app = make_app(simulator, store_url=store_url)
    client = app.test_client()
    assert client.get("/meta_ads/resumo").status_code == 200
    (only,) = recorded(app)
    assert (only.trigger, only.platforms, only.accounts, only.ads) == ("request", 1, 11, 42)
    assert client.get("/geral.csv").data == golden("geral")
    latest = recorded(app)[0]
    assert (latest.platforms, latest.accounts, latest.ads, latest.changed) == (3, 19, 66, 24)
    store = app_store(app).store
    assert store is not None
    back = store.snapshots.as_of(latest.taken_at)
    with StractClient(Settings(api_url=simulator.url, store_url="off")) as plain:
        fresh = fetch_report_data(plain, None, FetchLimits.from_settings(plain.settings))
    assert recorded_form(back.data) == recorded_form(fresh.data)
    assert client.get("/readyz").get_json()["store"] == "ok"


def test_a_failed_read_is_never_recorded(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(faults=[FaultRule("500", match="/insights")])
    app = make_app(sim, store_url=f"sqlite:///{tmp_path / 's.db'}", retries=0)
    client = app.test_client()
    for report in ("geral", "meta_ads", "ga4/resumo"):
        assert client.get(f"/{report}").status_code == 502
    assert recorded(app) == []


# The store failing mid-run, or not there at start: reports never notice.


@pytest.fixture
def pair(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> Iterator[Callable[[str], tuple[Flask, Flask, list[float]]]]:
    """An app recording into a given store and an app without one, reading the same growing
    simulator (its clock moves only when the test says)."""
    clock = [START]

    def make(store_url: str) -> tuple[Flask, Flask, list[float]]:
        sim = make_simulator(growth=Growth(0.01, start=START, clock=lambda: clock[0]))
        return make_app(sim, store_url=store_url), make_app(sim), clock

    yield make


def reports_stay_live(app: Flask, plain: Flask) -> None:
    """Every report from ``app`` is the bytes of the app without a store, and quick."""
    for report in REPORTS:
        began = time.monotonic()
        answer = app.test_client().get(f"/{report}.csv")
        assert answer.status_code == 200
        assert time.monotonic() - began < 2.0  # never waits for the store
        assert answer.data == plain.test_client().get(f"/{report}.csv").data


def readyz(app: Flask) -> dict[str, str]:
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200  # a store down is still ready
    return answer.get_json()


def test_a_locked_sqlite_store(
    pair: Callable[[str], tuple[Flask, Flask, list[float]]],
    tmp_path: Path,
    caplog_store: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "store.sqlite3"
    app, plain, clock = pair(f"sqlite:///{path}")
    reports_stay_live(app, plain)
    before = len(recorded(app))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        clock[0] += 60
        reports_stay_live(app, plain)
        wait_for(lambda: readyz(app)["store"] == "down")
        detail = readyz(app)["store_detail"]
        assert "is locked" in detail and "reports still work" in detail
        reports_stay_live(app, plain)
    finally:
        other.execute("ROLLBACK")
        other.close()
    wait_for(lambda: readyz(app)["store"] == "ok")
    assert len(recorded(app)) > before  # the latest read of the outage, written after it
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]


def test_a_full_sqlite_store(
    pair: Callable[[str], tuple[Flask, Flask, list[float]]],
    tmp_path: Path,
    caplog_store: pytest.LogCaptureFixture,
) -> None:
    app, plain, clock = pair(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    reports_stay_live(app, plain)
    store = app_store(app).store
    assert store is not None and isinstance(store.db, SQLiteDatabase)
    with store.db.read() as tx:
        pages = tx.value("PRAGMA page_count")
    store.db.limit_pages(pages)
    clock[0] += 60  # every ad changes: the next recording needs room
    reports_stay_live(app, plain)
    wait_for(lambda: readyz(app)["store"] == "down")
    assert "is full" in readyz(app)["store_detail"]
    reports_stay_live(app, plain)
    store.db.limit_pages(None)
    wait_for(lambda: readyz(app)["store"] == "ok")
    latest = recorded(app)[0]
    assert latest.changed > 0
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]


@pytest.mark.postgres
def test_postgres_down_mid_run(
    pair: Callable[[str], tuple[Flask, Flask, list[float]]],
    own_pg_server: PostgresServer,
    caplog_store: pytest.LogCaptureFixture,
) -> None:
    app, plain, clock = pair(own_pg_server.create_database())
    reports_stay_live(app, plain)
    own_pg_server.stop()
    clock[0] += 60
    reports_stay_live(app, plain)
    wait_for(lambda: readyz(app)["store"] == "down")
    assert "is down" in readyz(app)["store_detail"]
    # History needs the store: a 503 saying so, never a 500.
    answer = app.test_client().get("/geral?as_of=1s")
    assert answer.status_code == 503 and "is down" in answer.get_json()["detail"]
    own_pg_server.start()
    wait_for(lambda: readyz(app)["store"] == "ok")
    assert recorded(app)[0].changed > 0
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]


@pytest.mark.postgres
def test_postgres_not_there_at_start(
    pair: Callable[[str], tuple[Flask, Flask, list[float]]],
    own_pg_server: PostgresServer,
    caplog_store: pytest.LogCaptureFixture,
) -> None:
    url = own_pg_server.create_database()
    own_pg_server.stop()
    app, plain, _ = pair(url)  # the server starts all the same
    reports_stay_live(app, plain)
    state = readyz(app)
    assert state["store"] == "down" and "reports still work" in state["store_detail"]
    assert app.test_client().get("/history.json").status_code == 503
    own_pg_server.start()
    wait_for(lambda: readyz(app)["store"] == "ok")
    reports_stay_live(app, plain)
    assert recorded(app) != []
    assert state_lines(caplog_store) == ["store unreachable", "store reachable again"]


def test_no_token_reaches_the_store_through_the_app(
    make_app: Callable[..., Flask], simulator: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite3"
    app = make_app(simulator, store_url=f"sqlite:///{path}")
    for report in ("geral", "meta_ads", "geral/resumo?since=1s"):
        app.test_client().get(f"/{report}")
    assert recorded(app)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite3*"))
    tokens = {a.token for p in real_dataset().platforms for a in p.accounts}
    tokens.add(Settings(api_url=simulator.url).api_token)
    assert len(stored) > 20_000
    assert [t for t in tokens if t.encode() in stored] == []
