"""The background recorder against stores that stop working: a SQLite file made full, a SQLite
file locked by another connection, a PostgreSQL stopped mid-run and started again. Each time
``submit`` returns at once, the state says ``down`` with the reason and then ``ok``, and the
log has exactly one line per change of state; then batching of key uses and audit entries,
retention, and closing."""

from __future__ import annotations

import gc
import logging
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pgserver import PostgresServer
from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.store import AuditEntry, Recorder, Scope, Store, open_store
from stract_reports.store.db import SQLiteDatabase
from support import recorded_form

PLATFORMS = [Platform("p", "P")]
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOKEN = "account-token-0123456789abcdef"


def read(value: int, ads: int = 2000) -> list[PlatformData]:
    """One platform of ``ads`` ads whose values depend on ``value`` (so each is a change)."""
    rows = [(n, Decimal(f"{value}.{n:04d}"), f"ad {n}") for n in range(ads)]
    account = AccountData(Account("1", "Conta", TOKEN), rows)
    fields = [Field("id", "Id"), Field("spend", "Spend"), Field("name", "Name")]
    return [PlatformData(PLATFORMS[0], fields, [account])]


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Until ``check()`` holds (the test fails after ``timeout`` seconds)."""
    give_up = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < give_up, "timed out"
        time.sleep(0.02)


def submit_quickly(recorder: Recorder, value: int, at: datetime) -> bool:
    """``submit``, checking that it returns at once whatever the store is doing."""
    start = time.monotonic()
    queued = recorder.submit(PLATFORMS, read(value), at=at, trigger="request")
    assert time.monotonic() - start < 0.5
    return queued


def state_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The recorder's lines about the store's state, in order."""
    lines = [r.getMessage() for r in caplog.records if r.name == "stract_reports.store"]
    return [
        line.split(":")[0]
        for line in lines
        if line.startswith(("store unwritable", "store writable again"))
    ]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}", busy_timeout=2.0)
    assert store is not None
    yield store
    store.close()


@pytest.fixture
def caplog_store(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="stract_reports.store")
    return caplog


def test_a_full_sqlite_store(sqlite_store: Store, caplog_store: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(sqlite_store, retry_every=0.2)
    try:
        assert submit_quickly(recorder, 1, T0)
        assert recorder.flush() and recorder.state.status == "ok"
        db = sqlite_store.db
        assert isinstance(db, SQLiteDatabase)
        with db.read() as tx:
            pages = tx.value("PRAGMA page_count")
        db.limit_pages(pages)  # the file may not grow: the next change does not fit

        assert submit_quickly(recorder, 2, T0 + timedelta(minutes=1))
        wait_for(lambda: recorder.state.status == "down")
        assert "is full: database or disk is full" in recorder.state.reason
        for n in range(3, 8):  # while down: each replaces the read kept for the retry
            assert not submit_quickly(recorder, n, T0 + timedelta(minutes=n))
        time.sleep(0.6)  # several failed retries: still one line
        assert state_lines(caplog_store) == ["store unwritable"]

        db.limit_pages(None)
        wait_for(lambda: recorder.state.status == "ok")
        assert recorder.flush()
    finally:
        recorder.close()
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]
    # The latest read of the outage was recorded when the store worked again.
    assert [s.taken_at.minute for s in sqlite_store.snapshots.page().snapshots] == [7, 0]
    back = sqlite_store.snapshots.as_of(T0 + timedelta(minutes=7)).data
    assert recorded_form(back) == recorded_form(read(7))
    assert TOKEN not in caplog_store.text


def test_a_locked_sqlite_store(
    sqlite_store: Store, caplog_store: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    recorder = Recorder(sqlite_store, retry_every=0.2)
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        assert submit_quickly(recorder, 1, T0)
        wait_for(lambda: recorder.state.status == "down")
        assert "is locked: database is locked" in recorder.state.reason
        for n in range(2, 6):
            assert not submit_quickly(recorder, n, T0 + timedelta(minutes=n))
        assert sqlite_store.snapshots.first() is None  # readers go on meanwhile (WAL)
        time.sleep(2.5)  # a retry waited out its busy timeout and failed: no new line
        assert state_lines(caplog_store) == ["store unwritable"]
        other.execute("COMMIT")
        wait_for(lambda: recorder.state.status == "ok")
    finally:
        other.close()
        recorder.close()
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]
    assert [s.taken_at.minute for s in sqlite_store.snapshots.page().snapshots] == [5]


def test_a_full_queue_drops_a_read_with_one_line_each(
    sqlite_store: Store, caplog_store: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    recorder = Recorder(sqlite_store, queue_size=2)
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the writer waits on its first read
        queued = [submit_quickly(recorder, 0, T0)]
        until = time.monotonic() + 5
        while recorder._queue.qsize() and time.monotonic() < until:  # the writer took it
            time.sleep(0.01)
        queued += [submit_quickly(recorder, n, T0 + timedelta(minutes=n)) for n in range(1, 6)]
        other.execute("COMMIT")
        recorder.flush()
    finally:
        other.close()
        recorder.close()
    busy = [r for r in caplog_store.records if "store recorder busy" in r.getMessage()]
    # The first read is being written, the queue holds two more: the other three are dropped.
    assert queued == [True, True, True, False, False, False]
    assert len(busy) == 3
    assert "a read of 1 platform(s) at 2026-12-01T10:05:00+00:00 was not recorded" in (
        busy[-1].getMessage()
    )


@pytest.mark.postgres
def test_postgres_stopped_mid_run_and_started_again(
    own_pg_server: PostgresServer, caplog_store: pytest.LogCaptureFixture
) -> None:
    store = open_store(own_pg_server.create_database())
    assert store is not None
    recorder = Recorder(store, retry_every=0.2)
    try:
        assert submit_quickly(recorder, 1, T0)
        assert recorder.flush() and recorder.state.status == "ok"

        own_pg_server.stop()
        submit_quickly(recorder, 2, T0 + timedelta(minutes=2))
        wait_for(lambda: recorder.state.status == "down")
        assert recorder.state.reason.startswith(f"the store ({store.shown}) is down: ")
        for n in range(3, 6):
            assert not submit_quickly(recorder, n, T0 + timedelta(minutes=n))
        time.sleep(0.6)
        assert state_lines(caplog_store) == ["store unwritable"]

        own_pg_server.start()
        wait_for(lambda: recorder.state.status == "ok")
        assert recorder.flush()
    finally:
        recorder.close()
        store.close()
    assert state_lines(caplog_store) == ["store unwritable", "store writable again"]
    assert "postgres@" not in caplog_store.text  # the URL is shown without its user
    store = open_store(own_pg_server.url(store.shown.rsplit("/", 1)[1]))
    assert store is not None
    try:
        assert [s.taken_at.minute for s in store.snapshots.page().snapshots] == [5, 0]
    finally:
        store.close()


def test_key_uses_are_written_at_most_once_a_minute(store: Store) -> None:
    key, _ = store.keys.add("acme", Scope(), now=T0)
    recorder = Recorder(store)
    try:

        def uses() -> int:
            found = store.keys.get("acme")
            assert found is not None
            return found.uses

        recorder.touch(key.id, T0)
        wait_for(lambda: uses() == 1)
        recorder.touch(key.id, T0 + timedelta(seconds=5))
        recorder.touch(key.id, T0 + timedelta(seconds=9))
        time.sleep(1.5)
        assert uses() == 1  # the second batch waits for the minute
        assert recorder.flush()
        again = store.keys.get("acme")
        assert again is not None
        assert (again.uses, again.last_used) == (3, T0 + timedelta(seconds=9))
    finally:
        recorder.close()


def test_audit_entries_are_written_in_batches(store: Store) -> None:
    recorder = Recorder(store, flush_every=0.5)
    entries = [
        AuditEntry(T0 + timedelta(seconds=n), "acme", None, "geral", "csv", 200) for n in range(5)
    ]
    try:
        for entry in entries:
            recorder.audit(entry)
        wait_for(lambda: len(store.audit.query()) == 5, timeout=5)
        recorder.audit(AuditEntry(T0 + timedelta(minutes=1), None, None, "ga4", "json", 502))
    finally:
        recorder.close()  # writes what is pending
    assert store.audit.query() == [
        AuditEntry(T0 + timedelta(minutes=1), None, None, "ga4", "json", 502),
        *entries[::-1],
    ]


def test_old_snapshots_are_pruned_after_a_recording(store: Store) -> None:
    recorder = Recorder(store, keep=timedelta(days=1), prune_every=0)
    now = datetime.now(UTC)
    try:
        recorder.submit(PLATFORMS, read(1, 10), at=now - timedelta(days=3), trigger="schedule")
        recorder.submit(PLATFORMS, read(2, 10), at=now, trigger="schedule")
        assert recorder.flush()
    finally:
        recorder.close()
    assert [s.taken_at for s in store.snapshots.page().snapshots] == [now]


def test_a_read_that_cannot_be_recorded_is_logged_and_the_state_stays_ok(
    sqlite_store: Store, caplog_store: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(sqlite_store)
    bad = read(1, 3)
    bad[0].accounts[0].rows[0] = (1, 1.5, "float")
    try:
        assert recorder.submit(PLATFORMS, bad, at=T0, trigger="request")
        assert recorder.submit(PLATFORMS, read(2, 3), at=T0 + timedelta(1), trigger="request")
        assert recorder.flush()
        assert recorder.state.status == "ok"
    finally:
        recorder.close()
    errors = [r.getMessage() for r in caplog_store.records if r.levelno == logging.ERROR]
    assert errors == [
        "store recorder: a read at 2026-12-01 10:00:00+00:00 was not recorded: "
        "a value of type float"
    ]
    assert len(sqlite_store.snapshots.page().snapshots) == 1
    assert not recorder.submit(PLATFORMS, read(3, 3), at=T0, trigger="request")  # closed


class _Rows(list):  # type: ignore[type-arg]
    """A list of rows that can be watched with a weak reference."""


def test_a_read_unchanged_since_the_last_is_held_without_its_rows(
    sqlite_store: Store, tmp_path: Path
) -> None:
    def digested(rows: list[Any]) -> list[PlatformData]:
        data = read(1)
        data[0].accounts[0].rows = rows
        data[0].accounts[0].digest = b"d" * 32
        return data

    recorder = Recorder(sqlite_store)
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    try:
        assert submit_quickly_data(recorder, digested(read(1)[0].accounts[0].rows), T0)
        assert recorder.flush()
        other.execute("BEGIN EXCLUSIVE")  # the next read waits, held by the recorder
        rows = _Rows(read(1)[0].accounts[0].rows)
        watched = weakref.ref(rows)
        assert submit_quickly_data(recorder, digested(rows), T0 + timedelta(minutes=1))
        del rows
        gc.collect()
        assert watched() is None  # unchanged: the recorder let go of the rows at once
        other.execute("COMMIT")
        assert recorder.flush()
    finally:
        other.close()
        recorder.close()
    latest = sqlite_store.snapshots.latest()
    assert latest is not None and (latest.ads, latest.changed) == (2000, 0)
    back = sqlite_store.snapshots.as_of(T0 + timedelta(minutes=1)).data
    assert recorded_form(back) == recorded_form(read(1))


def submit_quickly_data(recorder: Recorder, data: list[PlatformData], at: datetime) -> bool:
    """``submit`` of ``data``, checking that it returns at once."""
    start = time.monotonic()
    queued = recorder.submit(PLATFORMS, data, at=at, trigger="request")
    assert time.monotonic() - start < 0.5
    return queued
