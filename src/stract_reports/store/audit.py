"""The audit trail: which key or view read which report, when, and how it was answered.

An entry names the key (and the view, when the read came through one) by name, never by the
key or the view id. Entries are written in batches by the ``Recorder``; retention
(``STRACT_KEEP``) removes them with the snapshots of their age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .db import Database
from .times import from_us, to_us


@dataclass(frozen=True)
class AuditEntry:
    """One answered read: when, by which key and view (None: an owner key or none), which
    report and format, and the HTTP status."""

    at: datetime
    key: str | None
    view: str | None
    report: str
    format: str
    status: int


class Audit:
    """The audit trail in one store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Store a batch of entries in one transaction."""
        if not entries:
            return
        with self._db.write() as tx:
            tx.insert_rows(
                "audit",
                ("at", "key_name", "view_name", "report", "format", "status"),
                [(to_us(e.at), e.key, e.view, e.report, e.format, e.status) for e in entries],
            )

    def query(
        self, *, key: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        """Entries newest first: of one key (its views' reads included) and at or after
        ``since`` when given; at most ``limit``."""
        conditions: list[str] = []
        params: list[object] = []
        if key is not None:
            conditions.append("key_name = ?")
            params.append(key)
        if since is not None:
            conditions.append("at >= ?")
            params.append(to_us(since))
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT at, key_name, view_name, report, format, status FROM audit "
                f"{where}ORDER BY at DESC, id DESC LIMIT ?",
                (*params, limit),
            )
        return [AuditEntry(from_us(int(r[0])), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]
