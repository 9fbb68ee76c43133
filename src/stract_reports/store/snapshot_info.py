"""What the snapshot tables say, as values (``SnapshotInfo``, ``SnapshotPage``, ``Recorded``,
``Pruned``), and the few pieces of SQL that recording and reading back share: a snapshot row's
columns, and the content-addressed lists (``blob``) of platforms, fields and accounts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..records import Platform, PlatformData
from .db import Tx
from .times import from_us
from .values import blob_digest

TRIGGERS = ("request", "export", "schedule", "record")
SNAPSHOT_COLUMNS = "s.id, s.taken_at, s.trigger, s.platforms, s.accounts, s.ads, s.changed"


@dataclass(frozen=True)
class SnapshotInfo:
    """One recording: its id, when the read was made, why, and what it held (``changed``: ads
    that appeared, changed or disappeared since the previous recording of their platform)."""

    id: int
    taken_at: datetime
    trigger: str
    platforms: int
    accounts: int
    ads: int
    changed: int


@dataclass(frozen=True)
class SnapshotPage:
    """Snapshots newest first; ``next`` is the cursor of the following page (None: last)."""

    snapshots: list[SnapshotInfo]
    next: str | None


@dataclass(frozen=True)
class Located:
    """Which snapshots say what the store holds as of ``at``: the platform list of the latest
    snapshot at or before it (``listed_by``), and for each platform asked for its own latest
    read at or before it (``reads``: platform value -> that snapshot). Snapshots never change,
    so what is read back from the same ``key`` is the same."""

    at: datetime
    platforms: list[Platform]
    listed_by: SnapshotInfo
    reads: dict[str, SnapshotInfo]

    @property
    def snapshots(self) -> list[SnapshotInfo]:
        """Every snapshot used, oldest first, each once."""
        used = {s.id: s for s in (self.listed_by, *self.reads.values())}
        return sorted(used.values(), key=lambda s: (s.taken_at, s.id))

    @property
    def key(self) -> tuple[int, ...]:
        """The snapshots' ids: the list's, then each platform's read in list order."""
        reads = (self.reads[p.value].id for p in self.platforms if p.value in self.reads)
        return (self.listed_by.id, *reads)


@dataclass(frozen=True)
class Recorded(Located):
    """What the store holds as of ``at`` (``Located``), with ``data``: each platform asked
    for as recorded (tokens empty, ``ad_keys`` filled, ``digest`` None)."""

    data: list[PlatformData]


@dataclass(frozen=True)
class Pruned:
    """What one retention pass removed."""

    snapshots: int
    versions: int
    blobs: int


def upstream_id(tx: Tx, url: str, *, add: bool) -> int:
    """The id of the upstream whose identity is ``url`` (added if new and ``add``); 0 for one
    never recorded (no row has that id)."""
    found = tx.value("SELECT id FROM upstream WHERE url = ?", (url,))
    if found is None and add:
        tx.execute("INSERT INTO upstream (url) VALUES (?) ON CONFLICT (url) DO NOTHING", (url,))
        found = tx.value("SELECT id FROM upstream WHERE url = ?", (url,))
    return 0 if found is None else int(found)


def snapshot_info(row: Sequence[Any]) -> SnapshotInfo:
    """A snapshot row (its first columns as ``SNAPSHOT_COLUMNS``) as a value."""
    ident, taken, trigger, platforms, accounts, ads, changed = row[:7]
    return SnapshotInfo(
        int(ident), from_us(int(taken)), str(trigger), platforms, accounts, ads, changed
    )


def dumps(value: Any) -> str:
    """A list as the compact JSON a blob holds."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_blob(tx: Tx, blob: int) -> Any:
    """The list a blob holds."""
    return json.loads(tx.value("SELECT body FROM blob WHERE id = ?", (blob,)))


def store_blob(tx: Tx, body: str) -> int:
    """The id of the blob holding ``body``, stored now if it is new."""
    digest = blob_digest(body)
    found = tx.value("SELECT id FROM blob WHERE digest = ?", (digest,))
    if found is None:
        found = tx.value(
            "INSERT INTO blob (digest, body) VALUES (?, ?) RETURNING id", (digest, body)
        )
    return int(found)
