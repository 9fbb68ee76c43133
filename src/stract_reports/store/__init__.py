"""The store: a database of what the upstream served over time (history) and of who may read
it (scoped keys, saved views, audit). Below the web layer, beside ``upstream/``; the pure core
(``reports/``, ``render/``) imports neither.

    store = open_store(settings.store, upstream=upstream_identity(settings.api_url))  # or None
    store.snapshots.record(platforms, data, at=..., trigger="request")
    store.snapshots.as_of(when)                # -> Recorded: list[PlatformData] as it was
    store.keys / store.views / store.audit
    recorder = Recorder(store)                 # off the response path: submit() never blocks

SQLite (standard library, the default: a per-user file) or PostgreSQL (psycopg 3, the
``postgres`` extra) behind one interface (``db.py``); versioned migrations (``schema.py``);
exact values (``values.py``); snapshots (``snapshots.py``, over ``changes.py``, ``readback.py``
and ``retention.py``); keys and views (``keys.py``);
audit (``audit.py``); the background writer (``recorder.py``). Tokens never reach it: no table
has a column for one.
"""

from __future__ import annotations

from ..store_location import STORE_OFF, parse_store_url
from .audit import Audit, AuditEntry
from .db import Database, PostgresDatabase, SQLiteDatabase
from .errors import (
    NameTaken,
    NotFound,
    NothingRecorded,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
)
from .keys import KeyRecord, Keys, Scope, ScopeError, ViewRecord, Views
from .recorder import Recorder, RecorderState
from .schema import migrate
from .snapshots import (
    TRIGGERS,
    Located,
    Pruned,
    Recorded,
    SnapshotInfo,
    SnapshotPage,
    Snapshots,
    interval_start,
    upstream_identity,
)
from .times import now_utc, to_us


class Store:
    """One open store: its snapshots, keys, views and audit trail over one database."""

    def __init__(self, db: Database, upstream: str = "") -> None:
        self.db = db
        self.snapshots = Snapshots(db, upstream)
        self.keys = Keys(db)
        self.views = Views(db)
        self.audit = Audit(db)

    @property
    def shown(self) -> str:
        """Where the store is, for messages (no password)."""
        return self.db.shown

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    def close(self) -> None:
        """Close its connections (a ``Recorder`` over it is closed first)."""
        self.db.close()


def open_store(url: str, *, upstream: str = "", busy_timeout: float = 5.0) -> Store | None:
    """Open the store at ``url`` (``store_location.parse_store_url``) and bring its schema up to
    date; None for ``off``. Its history is the one of ``upstream`` (``upstream_identity`` of
    the API URL; "" for none named). ``ValueError`` for a URL of no known form,
    ``StoreTooNew``, ``StoreUnavailable`` (cannot open or reach it), ``StoreError`` (psycopg
    missing)."""
    location = parse_store_url(url)
    if location.dialect == STORE_OFF:
        return None
    db: Database
    if location.dialect == "sqlite":
        db = SQLiteDatabase(location, busy_timeout=busy_timeout)
    else:
        try:
            db = PostgresDatabase(location)
        except ImportError:
            raise StoreError(
                "a PostgreSQL store needs psycopg: pip install 'stract-reports[postgres]'"
            ) from None
    try:
        migrate(db, to_us(now_utc()))
    except BaseException:
        db.close()
        raise
    return Store(db, upstream)


__all__ = [
    "TRIGGERS",
    "Audit",
    "AuditEntry",
    "KeyRecord",
    "Keys",
    "Located",
    "NameTaken",
    "NotFound",
    "NothingRecorded",
    "Pruned",
    "Recorded",
    "Recorder",
    "RecorderState",
    "Scope",
    "ScopeError",
    "SnapshotInfo",
    "SnapshotPage",
    "Snapshots",
    "Store",
    "StoreError",
    "StoreTooNew",
    "StoreUnavailable",
    "ViewRecord",
    "Views",
    "interval_start",
    "open_store",
    "upstream_identity",
]
