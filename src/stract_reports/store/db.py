"""One database behind one small interface: SQLite or PostgreSQL, pooled connections, explicit
transactions, and every driver failure that means "down, full or locked" as ``StoreUnavailable``.

    with db.read() as tx:                 # a consistent view (SQLite: a WAL read transaction;
        tx.rows("SELECT ... WHERE a = ?", (a,))   # PostgreSQL: REPEATABLE READ, READ ONLY)
    with db.write(serial=True) as tx:     # BEGIN IMMEDIATE / BEGIN + an advisory lock
        tx.execute(...); tx.insert_rows("t", ("a", "b"), rows)

SQL is written once, with ``?`` placeholders (PostgreSQL gets ``%s``; no statement here holds
a literal ``?`` or ``%``). Each process owns a small pool of connections (``POOL_SIZE``): a
transaction borrows one and gives it back, so a long recording never holds a request's thread,
and SQLite's WAL lets readers go on while one process writes. A connection that failed at the
connection level is dropped, with every idle one (after a PostgreSQL restart they are all
dead). ``write(serial=True)`` runs the writers that must see each other's results one at a
time across processes and hosts: SQLite's ``BEGIN IMMEDIATE`` already does; PostgreSQL takes
a transaction-scoped advisory lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..store_location import StoreLocation
from .errors import StoreUnavailable

POOL_SIZE = 4
# Seconds a transaction waits for a free connection of this process's pool.
POOL_WAIT = 30.0
# The advisory lock of serial writers on PostgreSQL (any constant; "stract" in ASCII).
_SERIAL_LOCK = 0x737472616374


class Tx:
    """One transaction's statements; valid only inside its ``read()`` or ``write()`` block."""

    def __init__(self, db: Database, connection: Any) -> None:
        self._db = db
        self._cursor = connection.cursor()

    @property
    def dialect(self) -> str:
        """The database's: "sqlite" or "postgresql" (for the rare statement that differs)."""
        return self._db.dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        self._cursor.execute(self._db.sql(sql), params)
        return int(self._cursor.rowcount)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter tuple."""
        self._cursor.executemany(self._db.sql(sql), params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row a query returns."""
        self._cursor.execute(self._db.sql(sql), params)
        return list(self._cursor.fetchall())

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row a query returns, or None."""
        self._cursor.execute(self._db.sql(sql), params)
        found = self._cursor.fetchone()
        return None if found is None else tuple(found)

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        found = self.row(sql, params)
        return None if found is None else found[0]

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert many rows at once: ``executemany`` on SQLite, ``COPY`` on PostgreSQL."""
        self._db.insert_rows(self._cursor, table, columns, rows)


class Database:
    """A pool of connections to one store and the transactions over them (see the module)."""

    dialect = ""

    def __init__(self, shown: str, pool_size: int = POOL_SIZE) -> None:
        self.shown = shown
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction with a consistent view."""
        with self._session(write=False, serial=False) as tx:
            yield tx

    @contextmanager
    def write(self, *, serial: bool = False) -> Iterator[Tx]:
        """A write transaction; ``serial``: one at a time across every process of this store."""
        with self._session(write=True, serial=serial) as tx:
            yield tx

    def sql(self, text: str) -> str:
        """``text`` in this driver's placeholder style."""
        return text

    def close(self) -> None:
        """Close every idle connection; connections in use close when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            with suppress(Exception):
                connection.close()

    # What each dialect provides.

    def _connect(self) -> Any:
        raise NotImplementedError

    def _transaction(self, connection: Any, write: bool, serial: bool) -> Any:
        raise NotImplementedError

    def _unavailable(self, exc: BaseException) -> StoreUnavailable | None:
        raise NotImplementedError

    def _broken(self, connection: Any) -> bool:
        raise NotImplementedError

    def insert_rows(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert many rows through ``cursor`` (see ``Tx.insert_rows``)."""
        raise NotImplementedError

    # The pool and the transaction around it.

    @contextmanager
    def _session(self, *, write: bool, serial: bool) -> Iterator[Tx]:
        connection = self._borrow()
        broken = False
        try:
            with self._transaction(connection, write, serial):
                yield Tx(self, connection)
        except Exception as exc:
            broken = self._broken(connection)
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            if broken:
                self._drop_idle()
            raise unavailable from exc
        finally:
            self._give_back(connection, broken)

    def _borrow(self) -> Any:
        if self._closed:
            raise StoreUnavailable("down", self.shown, "the store was closed")
        if not self._slots.acquire(timeout=POOL_WAIT):
            raise StoreUnavailable("busy", self.shown, f"no free connection in {POOL_WAIT:g} s")
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self._connect()
        except Exception as exc:
            self._slots.release()
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    def _give_back(self, connection: Any, broken: bool) -> None:
        with self._lock:
            keep = not broken and not self._closed
            if keep:
                self._idle.append(connection)
        if not keep:
            with suppress(Exception):
                connection.close()
        self._slots.release()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            with suppress(Exception):
                connection.close()


# SQLite result codes (``sqlite_errorname``) by what they mean for a writer.
_SQLITE_KINDS = (
    (("SQLITE_BUSY", "SQLITE_LOCKED"), "locked"),
    (("SQLITE_FULL", "SQLITE_NOMEM"), "full"),
)


class SQLiteDatabase(Database):
    """A SQLite file in WAL mode; ``busy_timeout`` seconds of waiting for another writer."""

    dialect = "sqlite"

    def __init__(self, location: StoreLocation, *, busy_timeout: float = 5.0) -> None:
        super().__init__(location.shown)
        self.path = location.target
        self.busy_timeout = busy_timeout
        self._max_pages: int | None = None
        try:
            prepare_sqlite_file(self.path)
        except OSError as exc:
            raise StoreUnavailable("down", self.shown, exc.strerror or str(exc)) from None

    def limit_pages(self, pages: int | None) -> None:
        """Cap the file at ``pages`` pages on every connection of this process (None: SQLite's
        own cap): a store this size is full. The tests make a store full with it."""
        self._max_pages = pages
        with self._lock:
            for connection in self._idle:
                self._apply_page_limit(connection)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # no implicit transactions: ours are explicit
            check_same_thread=False,  # the pool hands it from thread to thread, one at a time
        )
        try:
            # WAL: readers never wait for the writer. NORMAL: a power cut may lose the last
            # snapshot, never corrupt the file.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._apply_page_limit(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _apply_page_limit(self, connection: sqlite3.Connection) -> None:
        if self._max_pages is not None:
            connection.execute(f"PRAGMA max_page_count={int(self._max_pages)}")
        else:
            connection.execute("PRAGMA max_page_count=4294967294")

    @contextmanager
    def _transaction(self, connection: Any, write: bool, serial: bool) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                with suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise

    def _unavailable(self, exc: BaseException) -> StoreUnavailable | None:
        if not isinstance(exc, sqlite3.Error) or isinstance(
            exc, sqlite3.IntegrityError | sqlite3.ProgrammingError
        ):
            return None
        name = getattr(exc, "sqlite_errorname", "") or ""
        for prefixes, kind in _SQLITE_KINDS:
            if name.startswith(prefixes):
                return StoreUnavailable(kind, self.shown, _first_line(exc))
        if name == "SQLITE_ERROR":  # a mistake in our SQL, not the store's state
            return None
        return _down(self.shown, exc)  # I/O error, cannot open, read-only, not a database

    def _broken(self, connection: Any) -> bool:
        return False  # a SQLite connection survives its errors

    def insert_rows(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """``executemany`` of one INSERT."""
        marks = ",".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)


def prepare_sqlite_file(path: str) -> None:
    """Create the SQLite file (0600: it holds ad-spend data) and the folders missing above it
    (0700), if it is new."""
    file = Path(path)
    if file.exists():
        return
    missing = [folder for folder in (file.parent, *file.parent.parents) if not folder.exists()]
    for folder in reversed(missing):  # mkdir -p would give the upper ones the default mode
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        descriptor = os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return
    os.close(descriptor)


def _down(shown: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable("down", shown, _first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


@lru_cache(maxsize=512)
def _format_style(text: str) -> str:
    return text.replace("?", "%s")


class PostgresDatabase(Database):
    """A PostgreSQL database through psycopg 3 (imported only here)."""

    dialect = "postgresql"

    def __init__(self, location: StoreLocation, *, connect_timeout: float = 5.0) -> None:
        super().__init__(location.shown)
        import psycopg

        self._psycopg = psycopg
        self._target = location.target
        self.connect_timeout = connect_timeout

    def sql(self, text: str) -> str:
        """``?`` placeholders as psycopg's ``%s``."""
        return _format_style(text)

    def _connect(self) -> Any:
        return self._psycopg.connect(
            self._target,
            autocommit=True,  # transactions are explicit: conn.transaction()
            connect_timeout=max(1, round(self.connect_timeout)),
            application_name="stract-reports",
        )

    @contextmanager
    def _transaction(self, connection: Any, write: bool, serial: bool) -> Iterator[None]:
        with connection.transaction():
            if not write:
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if serial:
                # Waiting at most this long for another process's recording; SET LOCAL, not a
                # connection option, so a pooler in front (pgbouncer) changes nothing.
                connection.execute("SET LOCAL lock_timeout = '120s'")
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SERIAL_LOCK,))
            yield

    def _unavailable(self, exc: BaseException) -> StoreUnavailable | None:
        errors = self._psycopg
        if not isinstance(exc, errors.Error):
            return None
        state = getattr(exc, "sqlstate", None) or ""
        if state == "53100":  # disk_full
            return StoreUnavailable("full", self.shown, _first_line(exc))
        if state in ("55P03", "40P01", "40001"):  # lock timeout, deadlock, serialization
            return StoreUnavailable("locked", self.shown, _first_line(exc))
        # No SQLSTATE: the connection failed or was lost. 08 connection, 53 resources,
        # 57 operator intervention (shutdown), 58 system error, 25006 a read-only standby.
        lost = not state and isinstance(exc, errors.OperationalError | errors.InterfaceError)
        if lost or state.startswith(("08", "53", "57", "58", "25006")):
            return _down(self.shown, exc)
        return None

    def _broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)

    def insert_rows(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """``COPY ... FROM STDIN``: several times faster than INSERTs for bulk rows."""
        with cursor.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
            write_row: Callable[[Sequence[Any]], None] = copy.write_row
            for row in rows:
                write_row(row)
