"""The store over a real SQLite file and a real PostgreSQL: opening and migrations, recording
reads of the simulator and reading them back exactly, only changes stored, several processes,
listing, claiming intervals, retention, and no token anywhere in it."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pgserver import PostgresServer
from stract_reports.config import Settings
from stract_reports.errors import UnknownPlatform
from stract_reports.records import Account, AccountData, Field, Platform, PlatformData, exact
from stract_reports.simulator import Simulator
from stract_reports.store import (
    NothingRecorded,
    Store,
    StoreTooNew,
    StoreUnavailable,
    changes,
    interval_start,
    open_store,
    upstream_identity,
)
from stract_reports.store.changes import Superseded
from stract_reports.store.db import Database, PostgresDatabase, SQLiteDatabase
from stract_reports.store.schema import LEGACY_UPSTREAM, MIGRATIONS, migrate
from stract_reports.store.times import to_us
from stract_reports.store.values import blob_digest
from stract_reports.store_location import parse_store_url
from support import free_port, read_upstream, recorded_form

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VERSIONS = [(n,) for n in range(1, len(MIGRATIONS) + 1)]  # each applied once
TABLES = {
    "upstream",
    "platform",
    "blob",
    "snapshot",
    "platform_read",
    "account_state",
    "ad_version",
    "record_claim",
    "access_key",
    "saved_view",
    "audit",
    "schema_version",
}


def count(store: Store, table: str, where: str = "") -> int:
    """Rows of one table (as the test sees the database, not through the store's API)."""
    with store.db.read() as tx:
        return int(tx.value(f"SELECT count(*) FROM {table} {where}"))


def tables(store: Store) -> set[str]:
    with store.db.read() as tx:
        if store.dialect == "sqlite":
            rows = tx.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = tx.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows} - {"sqlite_sequence"}


@pytest.fixture
def upstream(simulator: Simulator) -> tuple[list[Platform], list[PlatformData]]:
    """One complete read of the real dataset."""
    return read_upstream(simulator.url)


@pytest.fixture
def traced(request: pytest.FixtureRequest) -> Callable[[Store], Any]:
    """``with traced(store) as statements:`` every SQL statement the store runs in the block:
    SQLite's trace callback on fresh connections, PostgreSQL's statement log."""

    @contextmanager
    def trace(store: Store) -> Iterator[list[str]]:
        seen: list[str] = []
        db = store.db
        if isinstance(db, SQLiteDatabase):
            connect = db._connect

            def traced_connect() -> Any:
                connection = connect()
                connection.set_trace_callback(seen.append)
                return connection

            db._drop_idle()
            db._connect = traced_connect  # type: ignore[method-assign]
            try:
                yield seen
            finally:
                db._connect = connect  # type: ignore[method-assign]
                db._drop_idle()
            return
        server: PostgresServer = request.getfixturevalue("pg_server")
        with db.write() as tx:
            database = tx.value("SELECT current_database()")
            tx.execute(f"ALTER DATABASE {database} SET log_statement = 'all'")
        db._drop_idle()
        marker = f"trace-{time.monotonic_ns()}"
        with db.read() as tx:
            tx.value(f"SELECT '{marker}-start'")
        try:
            yield seen
            with db.read() as tx:
                tx.value(f"SELECT '{marker}-end'")
            log = (server.root / "server.log").read_text(errors="replace")
            inside = log.split(f"{marker}-start")[1].split(f"{marker}-end")[0]
            seen.extend(re.findall(r"(?:statement|execute [^:]*): (.*)", inside))
        finally:
            with db.write() as tx:
                tx.execute(f"ALTER DATABASE {database} RESET log_statement")
            db._drop_idle()

    return trace


# Opening and migrations.


def test_off_opens_nothing() -> None:
    assert open_store("off") is None
    assert open_store(" OFF ") is None


def test_a_new_store_is_migrated_to_the_newest_version(store: Store) -> None:
    assert tables(store) == TABLES
    with store.db.read() as tx:
        assert tx.rows("SELECT version FROM schema_version ORDER BY version") == VERSIONS


def test_reopening_migrates_nothing_and_keeps_the_data(
    store_url: str, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    first = open_store(store_url)
    assert first is not None
    first.snapshots.record(*upstream, at=T0, trigger="record")
    first.close()
    again = open_store(store_url)
    assert again is not None
    try:
        with again.db.read() as tx:
            assert tx.rows("SELECT version FROM schema_version ORDER BY version") == VERSIONS
        assert count(again, "snapshot") == 1 and count(again, "ad_version") == 66
        assert recorded_form(again.snapshots.as_of(T0).data) == recorded_form(upstream[1])
    finally:
        again.close()


def test_a_store_newer_than_the_code_refuses_to_open(store: Store, store_url: str) -> None:
    with store.db.write() as tx:
        tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (7, 0)")
    with pytest.raises(StoreTooNew) as raised:
        open_store(store_url)
    message = str(raised.value)
    assert "schema version 7" in message and f"knows (up to {len(MIGRATIONS)})" in message
    assert "\n" not in message


def test_a_store_of_the_previous_version_is_migrated_in_a_transaction(store: Store) -> None:
    # The store is at the newest version; one more (here a test's own) is applied on top of
    # it, and one that fails halfway leaves the store as it was.
    broken = "CREATE TABLE half (a INTEGER);\nCREATE TABLE snapshot (a INTEGER);\n"
    with pytest.raises(Exception, match="(?i)already exists"):
        migrate(store.db, 1, (*MIGRATIONS, broken))
    assert "half" not in tables(store)
    extra = "CREATE TABLE extra (a INTEGER NOT NULL);\nCREATE INDEX extra_a ON extra (a);\n"
    newer = len(MIGRATIONS) + 1
    assert migrate(store.db, 1, (*MIGRATIONS, extra)) == newer
    assert tables(store) == TABLES | {"extra"}
    with store.db.read() as tx:
        versions = tx.rows("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(n,) for n in range(1, newer + 1)]
    assert migrate(store.db, 1, (*MIGRATIONS, extra)) == newer  # idempotent
    with pytest.raises(StoreTooNew):
        migrate(store.db, 1, MIGRATIONS)


def test_two_processes_opening_a_new_store_at_once_migrate_it_once(store_url: str) -> None:
    opened: list[Store | None] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(open_store(store_url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for store in opened:
        assert store is not None
        with store.db.read() as tx:
            assert tx.rows("SELECT version FROM schema_version ORDER BY version") == VERSIONS
        store.close()


def test_a_store_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match=r"is down: Not a directory") as raised:
        open_store(f"sqlite:///{blocker}/store.sqlite3")
    assert raised.value.kind == "down" and raised.value.status == 503
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is no database" * 100)
    with pytest.raises(StoreUnavailable, match="is down: file is not a database"):
        open_store(f"sqlite:///{garbage}")
    url = f"postgresql://reports:s3cret@127.0.0.1:{free_port()}/stract"
    with pytest.raises(StoreUnavailable) as raised:
        open_store(url)
    message = str(raised.value)
    assert message.startswith(
        f"the store (postgresql://127.0.0.1:{url.rsplit(':', 1)[1]}) is down:"
    )
    assert "s3cret" not in message and "reports" not in message


def test_a_new_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert store is not None
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700


def test_a_relative_sqlite_url_is_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///history.sqlite3")
    assert store is not None
    store.close()
    assert (tmp_path / "history.sqlite3").is_file()


def test_the_default_store_is_never_in_the_real_home_during_tests() -> None:
    import pwd

    home = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
    default = Settings().store
    assert default.startswith("sqlite:///") and default.endswith("stract-reports/store.sqlite3")
    path = Path(default.removeprefix("sqlite:///")).resolve()
    assert path.parents[1] == Path(os.environ["XDG_STATE_HOME"]).resolve()
    assert not path.is_relative_to(home) or home == Path("/")


# Recording and reading back.


def test_a_read_comes_back_exactly_as_it_was_recorded(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    info = store.snapshots.record(platforms, data, at=T0, trigger="request")
    assert (info.platforms, info.accounts, info.ads, info.changed) == (3, 19, 66, 66)
    assert (info.taken_at, info.trigger) == (T0, "request")
    back = store.snapshots.as_of(T0 + timedelta(hours=1))
    assert back.platforms == platforms
    assert recorded_form(back.data) == recorded_form(data)
    assert back.reads == {p.value: info for p in platforms} and back.listed_by == info
    assert back.snapshots == [info]
    for account in (a for p in back.data for a in p.accounts):
        assert account.account.token == ""
        assert account.ad_keys == [str(n) for n in range(1, len(account.rows) + 1)]


def test_one_platform_back(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    store.snapshots.record(*upstream, at=T0, trigger="request")
    back = store.snapshots.as_of(T0, ["ga4"])
    assert [p.platform.value for p in back.data] == ["ga4"]
    assert recorded_form(back.data) == recorded_form(upstream[1][1:2])
    with pytest.raises(UnknownPlatform, match="no platform 'x'; valid platforms: meta_ads, ga4"):
        store.snapshots.as_of(T0, ["x"])


def test_nothing_recorded_before_the_first_snapshot(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    with pytest.raises(NothingRecorded, match="no snapshot was ever recorded") as raised:
        store.snapshots.as_of(T0)
    assert raised.value.status == 404 and raised.value.first is None
    assert store.snapshots.first() is None and store.snapshots.latest() is None
    store.snapshots.record(*upstream, at=T0, trigger="request")
    with pytest.raises(NothingRecorded) as raised:
        store.snapshots.as_of(T0 - timedelta(microseconds=1))
    assert raised.value.first == T0
    assert "the first is 2026-12-01T10:00:00+00:00" in str(raised.value)
    assert store.snapshots.first() == T0


def test_each_platform_comes_from_its_own_latest_read(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    meta, ga4, tiktok = data
    first = store.snapshots.record(platforms, [meta], at=T0, trigger="request")
    with pytest.raises(NothingRecorded, match="no snapshot of ga4 was ever recorded"):
        store.snapshots.as_of(T0)
    second = store.snapshots.record(
        platforms, [ga4, tiktok], at=T0 + timedelta(1), trigger="export"
    )
    back = store.snapshots.as_of(T0 + timedelta(2))
    assert recorded_form(back.data) == recorded_form(data)
    assert back.reads == {"meta_ads": first, "ga4": second, "tiktok_insights": second}
    assert back.listed_by == second and back.snapshots == [first, second]
    with pytest.raises(NothingRecorded) as raised:
        store.snapshots.as_of(T0 + timedelta(hours=1), ["ga4"])
    assert raised.value.platform == "ga4" and raised.value.first == T0 + timedelta(1)


def test_the_platform_list_is_the_one_of_the_time_asked_for(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    store.snapshots.record(platforms, data, at=T0, trigger="request")
    fewer = [platforms[0], Platform("ga4", "Google Analytics 4 (renamed)")]
    store.snapshots.record(fewer, data[:2], at=T0 + timedelta(1), trigger="request")
    assert store.snapshots.as_of(T0).platforms == platforms
    later = store.snapshots.as_of(T0 + timedelta(1))
    assert later.platforms == fewer
    assert [p.platform for p in later.data] == fewer


def test_only_changes_are_stored(
    store: Store, simulator: Simulator, traced: Callable[[Store], Any]
) -> None:
    platforms, data = read_upstream(simulator.url)
    store.snapshots.record(platforms, data, at=T0, trigger="request")
    size = {t: count(store, t) for t in ("ad_version", "blob", "account_state")}
    assert size == {"ad_version": 66, "blob": 7, "account_state": 19}

    # Unchanged: no statement touches an ad row, and only a snapshot and its reads are new.
    again = read_upstream(simulator.url)
    with traced(store) as statements:
        info = store.snapshots.record(*again, at=T0 + timedelta(1), trigger="schedule")
    assert info.changed == 0 and info.ads == 66
    assert statements and not [s for s in statements if "ad_version" in s or "account_state" in s]
    written = [s for s in statements if re.match(r"\s*(INSERT|UPDATE|DELETE|COPY)", s)]
    assert [re.match(r"\s*\w+ \w+ (\w+)", s)[1] for s in written] == [
        "snapshot",
        *["platform_read"] * 3,
    ]
    assert {t: count(store, t) for t in size} == size

    # One ad changes, one disappears, one appears (in another account): three versions.
    meta = simulator.dataset.platforms[0]
    meta.accounts[0].insights[0]["spend"] = 7000.1
    removed = meta.accounts[1].insights.pop()
    meta.accounts[2].insights.append({**removed, "id": 99})
    changed = read_upstream(simulator.url)
    with traced(store) as statements:
        info = store.snapshots.record(*changed, at=T0 + timedelta(2), trigger="request")
    assert changed[1][0].accounts[0].rows[0][2] == Decimal("7000.1")
    assert info.changed == 3
    # The diff read the open versions of the three changed accounts only.
    reads = [s for s in statements if re.match(r"\s*SELECT ad, opened", s)]
    assert len(reads) == 3
    assert count(store, "ad_version") == 66 + 2  # one new value, one new ad
    assert count(store, "ad_version", "WHERE closed IS NOT NULL") == 2
    assert recorded_form(store.snapshots.as_of(T0 + timedelta(1)).data) == recorded_form(data)
    assert recorded_form(store.snapshots.as_of(T0 + timedelta(2)).data) == recorded_form(changed[1])


def test_an_account_that_leaves_and_comes_back(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    full = data[2]  # TikTok: two accounts
    store.snapshots.record(platforms, [full], at=T0, trigger="request")
    without = PlatformData(full.platform, full.fields, full.accounts[:1])
    info = store.snapshots.record(platforms, [without], at=T0 + timedelta(1), trigger="request")
    gone = len(full.accounts[1].rows)
    assert info.changed == gone and info.accounts == 1
    assert count(store, "account_state") == 1
    back = store.snapshots.record(platforms, [full], at=T0 + timedelta(2), trigger="request")
    assert back.changed == gone
    for at, expected in ((T0, full), (T0 + timedelta(1), without), (T0 + timedelta(2), full)):
        assert recorded_form(store.snapshots.as_of(at, ["tiktok_insights"]).data) == recorded_form(
            [expected]
        )


def _platform(rows: list[tuple[Any, ...]], keys: list[str] | None = None) -> PlatformData:
    account = AccountData(Account("7", "Loja", "tok-123"), rows, ad_keys=keys)
    return PlatformData(
        Platform("p", "P"), [Field("spend", "Spend"), Field("name", "Name")], [account]
    )


def test_ads_are_keyed_by_their_upstream_ids_and_keep_their_order(store: Store) -> None:
    listed = [Platform("p", "P")]
    rows = [(Decimal("1.0"), "a"), (Decimal("2.0"), "b"), (Decimal("3.0"), "c")]
    store.snapshots.record(listed, [_platform(rows, ["x", "y", "z"])], at=T0, trigger="record")
    reordered = [rows[2], rows[0], rows[1]]
    info = store.snapshots.record(
        listed, [_platform(reordered, ["z", "x", "y"])], at=T0 + timedelta(1), trigger="record"
    )
    assert info.changed == 3  # same values, new positions
    then = store.snapshots.as_of(T0).data[0].accounts[0]
    now = store.snapshots.as_of(T0 + timedelta(1)).data[0].accounts[0]
    assert (then.rows, then.ad_keys) == (rows, ["x", "y", "z"])
    assert (now.rows, now.ad_keys) == (reordered, ["z", "x", "y"])


def test_a_read_for_a_report_gives_float_literals_as_bytes_and_each_account_its_rows(
    store: Store,
) -> None:
    # Accounts whose ids sort apart from their upstream order, one with no ads.
    fields = [Field("spend", "Spend"), Field("clicks", "Clicks"), Field("name", "Name")]
    rows = {
        "9": [(Decimal("5.50"), 3, "a"), (Decimal("1E+2"), None, "b")],
        "10": [],
        "1": [(Decimal("-0.0"), 12345678901234567890123, None)],
        "Ä": [(None, 0, "ç"), (Decimal("7.25"), 1, "d"), (Decimal("5E0"), 2, "e")],
    }
    accounts = [
        AccountData(
            Account(ident, f"n{ident}", "tok"), ads, [f"{ident}-{n}" for n in range(len(ads))]
        )
        for ident, ads in rows.items()
    ]
    listed = [Platform("p", "P")]
    store.snapshots.record(
        listed, [PlatformData(listed[0], fields, accounts)], at=T0, trigger="record"
    )
    exact_back = store.snapshots.as_of(T0)
    literal_back = store.snapshots.read(store.snapshots.locate(T0), literals=True)
    assert recorded_form(exact_back.data) == recorded_form(
        [PlatformData(listed[0], fields, accounts)]
    )
    got = [(a.account.id, a.rows, a.ad_keys) for a in literal_back.data[0].accounts]
    assert got == [
        ("9", [(b"5.50", 3, "a"), (b"1E+2", None, "b")], ["9-0", "9-1"]),
        ("10", [], []),
        ("1", [(b"-0.0", 12345678901234567890123, None)], ["1-0"]),
        ("Ä", [(None, 0, "ç"), (b"7.25", 1, "d"), (b"5E0", 2, "e")], ["Ä-0", "Ä-1", "Ä-2"]),
    ]
    exact_rows = [[tuple(map(exact, row)) for row in a.rows] for a in literal_back.data[0].accounts]
    assert repr(exact_rows) == repr([a.rows for a in exact_back.data[0].accounts])


def test_a_repeated_ad_key_gets_a_suffix(store: Store) -> None:
    rows = [(Decimal("1.0"), "a"), (Decimal("2.0"), "b"), (None, "c")]
    store.snapshots.record(
        [Platform("p", "P")], [_platform(rows, ["5", "5", "5#2"])], at=T0, trigger="record"
    )
    back = store.snapshots.as_of(T0).data[0].accounts[0]
    assert back.ad_keys == ["5", "5#2", "5#2#2"] and back.rows == rows


def test_the_fetch_layers_digest_decides_what_is_unchanged(store: Store) -> None:
    listed = [Platform("p", "P")]
    first = _platform([(Decimal("1.0"), "a")])
    first.accounts[0].digest = b"body-digest"
    store.snapshots.record(listed, [first], at=T0, trigger="record")
    # The same digest with other rows: trusted, nothing is compared or written.
    same = _platform([(Decimal("9.0"), "z")])
    same.accounts[0].digest = b"body-digest"
    assert (
        store.snapshots.record(listed, [same], at=T0 + timedelta(1), trigger="record").changed == 0
    )
    assert (
        store.snapshots.as_of(T0 + timedelta(1)).data[0].accounts[0].rows == first.accounts[0].rows
    )
    # The same digest under reordered fields is a change: every stored row is in field order.
    moved = PlatformData(first.platform, first.fields[::-1], [first.accounts[0]])
    moved.accounts[0] = AccountData(first.accounts[0].account, [("a", Decimal("1.0"))])
    moved.accounts[0].digest = b"body-digest"
    assert (
        store.snapshots.record(listed, [moved], at=T0 + timedelta(2), trigger="record").changed == 1
    )
    back = store.snapshots.as_of(T0 + timedelta(2)).data[0]
    assert back.fields == first.fields[::-1] and back.accounts[0].rows == [("a", Decimal("1.0"))]


def test_what_cannot_be_recorded_exactly_is_refused_and_nothing_is_written(store: Store) -> None:
    listed = [Platform("p", "P")]
    cases: list[tuple[list[PlatformData], str]] = [
        ([_platform([(1.5, "float")])], "a value of type float"),
        ([_platform([(Decimal("NaN"), "x")])], "not a number"),
        ([_platform([(Decimal("1"), "x")], ["a", "b"])], "1 rows but 2 ad keys"),
        ([_platform([]), _platform([])], "each platform read must be in the platform list, once"),
        ([PlatformData(Platform("q", "Q"), [], [])], "each platform read must be in"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            store.snapshots.record(listed, data, at=T0, trigger="record")
    twice = _platform([])
    twice.accounts.append(twice.accounts[0])
    with pytest.raises(ValueError, match="account id '7' appears twice in p"):
        store.snapshots.record(listed, [twice], at=T0, trigger="record")
    with pytest.raises(ValueError, match="trigger must be one of"):
        store.snapshots.record(listed, [], at=T0, trigger="cron")
    with pytest.raises(ValueError, match="without a zone"):
        store.snapshots.record(listed, [], at=datetime(2026, 1, 1), trigger="record")
    assert count(store, "snapshot") == count(store, "ad_version") == count(store, "blob") == 0


def test_another_process_recording_in_between_is_seen(
    store: Store, store_url: str, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    # Two stores on one database are two processes: each keeps its own digests in memory.
    other = open_store(store_url)
    assert other is not None
    platforms, data = upstream
    try:
        store.snapshots.record(platforms, data, at=T0, trigger="request")
        changed = read_changed(data)
        other.snapshots.record(platforms, changed, at=T0 + timedelta(1), trigger="request")
        # Back to the first values: this process's memory says "unchanged", the database not.
        info = store.snapshots.record(platforms, data, at=T0 + timedelta(2), trigger="request")
        assert info.changed == 1
        for at, expected in ((T0, data), (T0 + timedelta(1), changed), (T0 + timedelta(2), data)):
            assert recorded_form(other.snapshots.as_of(at).data) == recorded_form(expected)
    finally:
        other.close()


def read_changed(data: list[PlatformData]) -> list[PlatformData]:
    """A copy of ``data`` whose first ad's last value is different."""
    first = data[0].accounts[0]
    row = first.rows[0]
    changed_account = AccountData(first.account, [(*row[:-1], Decimal("0.123")), *first.rows[1:]])
    meta = PlatformData(data[0].platform, data[0].fields, [changed_account, *data[0].accounts[1:]])
    return [meta, *data[1:]]


def test_recordings_from_two_processes_at_once_are_serial(
    store: Store, store_url: str, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    other = open_store(store_url)
    assert other is not None
    platforms, data = upstream
    changed = read_changed(data)
    infos: list[Any] = []
    try:

        def record(target: Store, rows: list[PlatformData], hour: int) -> None:
            for n in range(5):
                at = T0 + timedelta(hours=hour, minutes=n)
                infos.append(target.snapshots.record(platforms, rows, at=at, trigger="request"))

        threads = [
            threading.Thread(target=record, args=(store, data, 0)),
            threading.Thread(target=record, args=(other, changed, 1)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(infos) == 10
        for info in infos:
            expected = data if info.taken_at.hour == 10 else changed
            assert recorded_form(store.snapshots.as_of(info.taken_at).data) == recorded_form(
                expected
            )
    finally:
        other.close()


# Listing, claiming, retention.


def test_snapshots_are_listed_newest_first_a_page_at_a_time(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    times = [T0 + timedelta(minutes=n) for n in (0, 5, 5, 10, 20)]
    infos = [store.snapshots.record(*upstream, at=at, trigger="request") for at in times]
    newest_first = sorted(infos, key=lambda i: (i.taken_at, i.id), reverse=True)
    seen, cursor = [], None
    while True:
        page = store.snapshots.page(limit=2, cursor=cursor)
        seen.extend(page.snapshots)
        assert len(page.snapshots) <= 2
        if page.next is None:
            break
        cursor = page.next
    assert seen == newest_first
    assert store.snapshots.latest() == newest_first[0]
    for bad in ("x", "1.", "1.2.3", "9" * 30 + ".1"):
        with pytest.raises(ValueError, match="cursor"):
            store.snapshots.page(cursor=bad)


def test_one_claim_per_interval_across_processes(store: Store, store_url: str) -> None:
    other = open_store(store_url)
    assert other is not None
    try:
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def claim(target: Store) -> None:
            barrier.wait()
            results.append(target.snapshots.claim_interval(T0))

        threads = [threading.Thread(target=claim, args=(s,)) for s in [store, other] * 4]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]
        assert other.snapshots.claim_interval(T0 + timedelta(minutes=15)) is True
        assert store.snapshots.claim_interval(T0 + timedelta(minutes=15)) is False
    finally:
        other.close()


def test_every_process_names_an_interval_alike() -> None:
    quarter = timedelta(minutes=15)
    assert interval_start(T0 + timedelta(minutes=14, seconds=59), quarter) == T0
    assert interval_start(T0 + quarter, quarter) == T0 + quarter
    other_zone = (T0 + timedelta(minutes=20)).astimezone(timezone(timedelta(hours=-3)))
    assert interval_start(other_zone, quarter) == T0 + quarter
    assert interval_start(T0 + timedelta(hours=5), timedelta(days=1)) == T0.replace(hour=0)
    with pytest.raises(ValueError, match="longer than 0"):
        interval_start(T0, timedelta(0))


def test_retention_removes_old_snapshots_but_never_a_platforms_newest_read(
    store: Store, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    changed = read_changed(data)
    day = timedelta(days=1)
    old_ga4 = store.snapshots.record(platforms, [data[1]], at=T0, trigger="request")
    store.snapshots.record(platforms, [data[0], data[2]], at=T0 + day, trigger="request")
    store.snapshots.record(platforms, [changed[0], data[2]], at=T0 + 2 * day, trigger="request")
    kept = store.snapshots.record(
        platforms, [data[0], data[2]], at=T0 + 50 * day, trigger="request"
    )
    store.snapshots.claim_interval(T0)
    assert count(store, "ad_version") == 66 + 2

    pruned = store.snapshots.prune(T0 + 60 * day, timedelta(days=30))
    # Day 0 stays (GA4's only read), days 1 and 2 go with the two versions only they showed.
    assert (pruned.snapshots, pruned.versions) == (2, 2)
    assert pruned.blobs == 0  # day 50 uses the same lists as days 1 and 2
    assert [s.id for s in store.snapshots.page().snapshots] == [kept.id, old_ga4.id]
    assert count(store, "ad_version") == 66
    assert count(store, "record_claim") == 0
    back = store.snapshots.as_of(T0 + 60 * day)
    assert recorded_form(back.data) == recorded_form(data)
    assert back.reads["ga4"] == old_ga4
    with pytest.raises(NothingRecorded) as raised:
        store.snapshots.as_of(T0 + 20 * day, ["meta_ads"])
    assert raised.value.first == T0 + 50 * day

    # A blob nobody uses any more goes too.
    renamed = [Platform(p.value, p.label + "!") for p in platforms]
    store.snapshots.record(renamed, data, at=T0 + 70 * day, trigger="request")
    pruned = store.snapshots.prune(T0 + 70 * day, timedelta(days=1))
    assert (pruned.snapshots, pruned.versions, pruned.blobs) == (2, 0, 1)  # the old list


def test_no_token_reaches_the_store(
    store: Store, simulator: Simulator, request: pytest.FixtureRequest
) -> None:
    platforms, data = read_upstream(simulator.url)
    tokens = {a.token for p in simulator.dataset.platforms for a in p.accounts}
    tokens.add(Settings(api_url=simulator.url).api_token)
    assert len(tokens) == 20 and all(a.account.token for p in data for a in p.accounts)
    store.snapshots.record(platforms, data, at=T0, trigger="request")
    store.snapshots.record(platforms, read_changed(data), at=T0 + timedelta(1), trigger="request")
    if store.dialect == "sqlite":
        path = Path(store.db.path)  # type: ignore[attr-defined]
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert len(stored) > 20_000
        found = [t for t in tokens if t.encode() in stored]
    else:
        text = []
        with store.db.read() as tx:
            for table in TABLES:
                text.extend(repr(row) for row in tx.rows(f"SELECT * FROM {table}"))
        dump = "\n".join(text)
        assert "Anúncio 9" in dump and len(dump) > 5_000
        found = [t for t in tokens if t in dump]
    assert found == []


# History by upstream (schema version 2).


def test_an_upstream_is_named_by_its_place_only() -> None:
    named = upstream_identity
    assert named("HTTPS://Sidebar.Stract.TO:443/api/") == "https://sidebar.stract.to/api"
    assert named("http://127.0.0.1:8765/api") == "http://127.0.0.1:8765/api"
    assert named("http://127.0.0.1:80/api") == "http://127.0.0.1/api"
    assert named("https://user:secret-token-1234@host/api?token=abc#x") == "https://host/api"
    assert named("http://[::1]:8765/api") == "http://[::1]:8765/api"
    assert named("http://host:notaport/api") == "http://host:notaport/api"
    assert named("https://a.example/api") != named("https://b.example/api")


def test_upstreams_sharing_a_store_never_see_each_others_history(
    store_url: str, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    real = open_store(store_url, upstream="https://sidebar.stract.to/api")
    staging = open_store(store_url, upstream="https://staging.example/api")
    assert real is not None and staging is not None
    try:
        mine = real.snapshots.record(platforms, data, at=T0, trigger="request")
        assert staging.snapshots.first() is None and staging.snapshots.latest() is None
        assert staging.snapshots.page().snapshots == []
        with pytest.raises(NothingRecorded, match="no snapshot was ever recorded"):
            staging.snapshots.as_of(T0 + timedelta(1))
        # The same platform values, other numbers: each upstream keeps its own.
        theirs = staging.snapshots.record(
            platforms, read_changed(data), at=T0 + timedelta(1), trigger="schedule"
        )
        assert theirs.changed == 66  # all new to this upstream
        assert recorded_form(real.snapshots.as_of(T0 + timedelta(2)).data) == recorded_form(data)
        assert recorded_form(staging.snapshots.as_of(T0 + timedelta(2)).data) == recorded_form(
            read_changed(data)
        )
        assert [s.id for s in real.snapshots.page().snapshots] == [mine.id]
        assert real.snapshots.first() == T0 and staging.snapshots.first() == T0 + timedelta(1)
        # A scheduled interval is claimed once per upstream.
        assert real.snapshots.claim_interval(T0) and staging.snapshots.claim_interval(T0)
        assert not real.snapshots.claim_interval(T0)
        # Retention thins each upstream's own history.
        real.snapshots.record(platforms, data, at=T0 + timedelta(days=40), trigger="request")
        pruned = real.snapshots.prune(T0 + timedelta(days=40), timedelta(days=30))
        assert pruned.snapshots == 1
        assert [s.id for s in staging.snapshots.page().snapshots] == [theirs.id]
    finally:
        real.close()
        staging.close()


def _database(url: str) -> Database:
    """A database at ``url``, not migrated (``open_store`` migrates)."""
    location = parse_store_url(url)
    if location.dialect == "sqlite":
        return SQLiteDatabase(location)
    return PostgresDatabase(location)


def test_a_version_1_store_is_migrated_with_its_history_kept_apart(store_url: str) -> None:
    db = _database(store_url)
    assert migrate(db, 1, MIGRATIONS[:1]) == 1
    lists = {
        "platforms": '[["meta_ads","Facebook Ads"]]',
        "fields": '[["clicks","Clicks"],["spend","Spend"]]',
        "accounts": '[["1","Conta 1"]]',
    }
    with db.write() as tx:
        blobs = {
            name: tx.value(
                "INSERT INTO blob (digest, body) VALUES (?, ?) RETURNING id",
                (blob_digest(body), body),
            )
            for name, body in lists.items()
        }
        platform = tx.value("INSERT INTO platform (value) VALUES ('meta_ads') RETURNING id")
        snapshot = tx.value(
            "INSERT INTO snapshot (taken_at, trigger, platforms_blob, platforms, accounts, ads, "
            "changed) VALUES (?, 'request', ?, 1, 1, 1, 1) RETURNING id",
            (to_us(T0), blobs["platforms"]),
        )
        tx.execute(
            "INSERT INTO platform_read (platform, snapshot, fields_blob, accounts_blob) "
            "VALUES (?, ?, ?, ?)",
            (platform, snapshot, blobs["fields"], blobs["accounts"]),
        )
        tx.execute(
            "INSERT INTO account_state (platform, account, digest) VALUES (?, '1', ?)",
            (platform, b"\x00" * 16),
        )
        tx.execute(
            "INSERT INTO ad_version (platform, position, opened, closed, account, ad, vals) "
            "VALUES (?, 0, ?, NULL, '1', '7', '[12,\"5.50\"]')",
            (platform, snapshot),
        )
        tx.execute("INSERT INTO record_claim (interval_start, claimed_at) VALUES (0, 0)")
    db.close()

    site = "https://sidebar.stract.to/api"
    store = open_store(store_url, upstream=site)
    legacy = open_store(store_url, upstream=LEGACY_UPSTREAM)
    assert store is not None and legacy is not None
    try:
        with store.db.read() as tx:
            assert tx.rows("SELECT version FROM schema_version ORDER BY version") == VERSIONS
            assert tx.rows("SELECT id, url FROM upstream") == [(1, LEGACY_UPSTREAM)]
            assert tx.rows("SELECT id, upstream, value FROM platform") == [
                (platform, 1, "meta_ads")
            ]
        assert count(store, "record_claim") == 0  # claims are transient: made anew
        # The old history is kept, under no upstream a server can name.
        assert store.snapshots.first() is None
        back = legacy.snapshots.as_of(T0)
        assert [(a.account.id, a.rows, a.ad_keys) for a in back.data[0].accounts] == [
            ("1", [(12, "5.50")], ["7"])
        ]
        # The same platform value under a new upstream is another platform.
        meta = Platform("meta_ads", "Facebook Ads")
        account = AccountData(Account("1", "Conta 1", "t" * 20), [(13, "6.00")], ["7"])
        fields = [Field("clicks", "Clicks"), Field("spend", "Spend")]
        info = store.snapshots.record(
            [meta], [PlatformData(meta, fields, [account])], at=T0, trigger="record"
        )
        assert info.changed == 1
        assert store.snapshots.as_of(T0).data[0].accounts[0].rows == [(13, "6.00")]
        assert legacy.snapshots.as_of(T0).data[0].accounts[0].rows == [(12, "5.50")]
        assert count(store, "platform") == 2
    finally:
        store.close()
        legacy.close()


def test_a_read_handed_over_lets_go_of_the_rows_the_store_holds_already(
    store: Store, store_url: str, upstream: tuple[list[Platform], list[PlatformData]]
) -> None:
    platforms, data = upstream
    for account in (a for p in data for a in p.accounts):  # as a live read's spans give them
        account.digest = hashlib.sha256(repr(account.rows).encode()).digest()
    assert store.snapshots.slim(data) == (data, {})  # nothing known yet: nothing let go
    store.snapshots.record(platforms, data, at=T0, trigger="request")
    slim, omitted = store.snapshots.slim(data)
    assert len(omitted) == 19 and sum(omitted.values()) == 66
    assert all(a.rows == [] and a.ad_keys is None for p in slim for a in p.accounts)
    info = store.snapshots.record(
        platforms, slim, at=T0 + timedelta(1), trigger="request", omitted=omitted
    )
    assert (info.platforms, info.accounts, info.ads, info.changed) == (3, 19, 66, 0)
    assert recorded_form(store.snapshots.as_of(T0 + timedelta(1)).data) == recorded_form(data)
    # One account changed (its digest says so): only its rows are kept.
    first = data[0].accounts[0]
    row = first.rows[0]
    changed = AccountData(
        first.account, [(*row[:-1], Decimal("0.123")), *first.rows[1:]], None, b"\x01" * 32
    )
    moved = [PlatformData(data[0].platform, data[0].fields, [changed, *data[0].accounts[1:]])]
    slim, omitted = store.snapshots.slim([*moved, *data[1:]])
    assert len(omitted) == 18 and slim[0].accounts[0].rows == changed.rows
    # Another process records that change first: the read that let its rows go is refused.
    stale, stale_omitted = store.snapshots.slim(data)
    other = open_store(store_url)
    assert other is not None
    try:
        other.snapshots.record(
            platforms, [*moved, *data[1:]], at=T0 + timedelta(2), trigger="schedule"
        )
    finally:
        other.close()
    before = count(store, "snapshot")
    with pytest.raises(Superseded, match="recorded changed by another process"):
        store.snapshots.record(
            platforms, stale, at=T0 + timedelta(3), trigger="request", omitted=stale_omitted
        )
    assert count(store, "snapshot") == before  # nothing written


def test_versions_are_written_a_batch_at_a_time(
    store: Store,
    upstream: tuple[list[Platform], list[PlatformData]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changes, "INSERT_BATCH", 5)  # the real batch is 20,000 versions
    platforms, data = upstream
    info = store.snapshots.record(platforms, data, at=T0, trigger="record")
    assert (info.ads, info.changed) == (66, 66) and count(store, "ad_version") == 66
    assert recorded_form(store.snapshots.as_of(T0).data) == recorded_form(data)
