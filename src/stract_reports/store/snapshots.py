"""Snapshots of upstream reads: record what a report read, read it back as of a time, list,
claim a scheduled interval, and forget what retention no longer keeps.

Recording stores only changes. An ad is a chain of versions keyed by (platform, account id,
ad key), each with the snapshot that opened it and the one that closed it, its position and
its values as exact text (``values.py``). An account whose digest equals the last one recorded
costs nothing: no ad row is read or written. The digests are kept in memory, loaded once per
platform, and trusted only while the platform's newest read in the database is the one this
process knows (another process recording in between makes it reload them: O(accounts), never
O(ads)). A changed account is compared ad by ad with its open versions; an account that left
the list has its versions closed. The platform list, each platform's fields and its accounts
are content-addressed blobs, so an unchanged re-record writes one snapshot row and one row per
platform read.

Recordings are serial writers (``Database.write(serial=True)``): snapshot ids grow in the order
recordings commit, and a snapshot's state is exactly the versions open at its id. Times need
not grow with ids (a slow read may commit after a faster, later one): a time picks a snapshot
by ``taken_at``, then its id picks the versions.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from ..errors import UnknownPlatform
from ..records import Account, AccountData, Field, Platform, PlatformData, Row
from .db import Database, Tx
from .errors import NothingRecorded
from .times import from_us, now_utc, to_us
from .values import account_digest, blob_digest, decode_rows, encode_rows

TRIGGERS = ("request", "export", "schedule", "record")
_CURSOR = re.compile(r"(-?\d{1,20})\.(\d{1,20})")
_SNAPSHOT_COLUMNS = "s.id, s.taken_at, s.trigger, s.platforms, s.accounts, s.ads, s.changed"
_VERSION_COLUMNS = ("platform", "account", "ad", "opened", "position", "vals")
_version_key = itemgetter(1, 2)  # (account, ad): the primary key's order within a platform


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


@dataclass
class Recorded:
    """What the store holds as of ``at``: the platform list of the latest snapshot at or
    before it (``listed_by``), and the data of each platform asked for, from its own latest
    read at or before it (``reads``: platform value -> that snapshot)."""

    at: datetime
    platforms: list[Platform]
    data: list[PlatformData]
    listed_by: SnapshotInfo
    reads: dict[str, SnapshotInfo]

    @property
    def snapshots(self) -> list[SnapshotInfo]:
        """Every snapshot used, oldest first, each once."""
        used = {s.id: s for s in (self.listed_by, *self.reads.values())}
        return sorted(used.values(), key=lambda s: (s.taken_at, s.id))


@dataclass(frozen=True)
class Pruned:
    """What one retention pass removed."""

    snapshots: int
    versions: int
    blobs: int


@dataclass
class _PlatformState:
    """The newest read of a platform this process knows, and its accounts' digests then."""

    last: int | None
    digests: dict[str, bytes]


@dataclass
class _AccountInput:
    id: str
    keys: list[str]
    digest: bytes
    rows: list[Row] = field(repr=False)


@dataclass
class _PlatformInput:
    value: str
    fields_body: str
    accounts_body: str
    accounts: list[_AccountInput]


class Snapshots:
    """Snapshots in one store (see the module)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()  # one recording at a time in this process
        self._platform_ids: dict[str, int] = {}
        self._states: dict[int, _PlatformState] = {}

    # Recording.

    def record(
        self,
        platforms: Sequence[Platform],
        data: Sequence[PlatformData],
        *,
        at: datetime,
        trigger: str,
    ) -> SnapshotInfo:
        """Record one complete read: the upstream's whole platform list, the platforms read in
        full, the time of the read (aware) and why (``TRIGGERS``). ``ValueError`` for input
        that cannot be recorded exactly (nothing is written then); ``StoreUnavailable``."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
        taken = to_us(at)
        listed = [p.value for p in platforms]
        if len(set(listed)) != len(listed):
            raise ValueError("the platform list names a platform twice")
        read = [d.platform.value for d in data]
        if len(set(read)) != len(read) or not set(read) <= set(listed):
            raise ValueError("each platform read must be in the platform list, once")
        inputs = [_prepare(d) for d in data]
        list_body = _dumps([[p.value, p.label] for p in platforms])
        counts = (len(data), sum(len(p.accounts) for p in inputs))
        ads = sum(len(a.rows) for p in inputs for a in p.accounts)
        with self._lock:
            states: dict[int, _PlatformState] = {}
            ids: dict[str, int] = {}
            with self._db.write(serial=True) as tx:
                snapshot = tx.value(
                    "INSERT INTO snapshot (taken_at, trigger, platforms_blob, platforms, "
                    "accounts, ads, changed) VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING id",
                    (taken, trigger, _blob(tx, list_body), *counts, ads),
                )
                changed = 0
                for item in inputs:
                    platform = ids[item.value] = self._platform_id(tx, item.value)
                    state = self._state(tx, platform)
                    changed += _record_platform(tx, platform, snapshot, item, state)
                    states[platform] = state
                if changed:
                    tx.execute("UPDATE snapshot SET changed = ? WHERE id = ?", (changed, snapshot))
            # Only what committed is remembered.
            self._platform_ids.update(ids)
            self._states.update(states)
        return SnapshotInfo(int(snapshot), from_us(taken), trigger, *counts, ads, changed)

    def _platform_id(self, tx: Tx, value: str) -> int:
        known = self._platform_ids.get(value)
        if known is not None:
            return known
        found = tx.value("SELECT id FROM platform WHERE value = ?", (value,))
        if found is None:
            found = tx.value("INSERT INTO platform (value) VALUES (?) RETURNING id", (value,))
        return int(found)

    def _state(self, tx: Tx, platform: int) -> _PlatformState:
        """The platform's digests, a copy to change; reloaded when another process recorded."""
        last = tx.value("SELECT max(snapshot) FROM platform_read WHERE platform = ?", (platform,))
        known = self._states.get(platform)
        if known is not None and known.last == last:
            return _PlatformState(last, dict(known.digests))
        rows = tx.rows("SELECT account, digest FROM account_state WHERE platform = ?", (platform,))
        return _PlatformState(last, {account: bytes(digest) for account, digest in rows})

    # Reading back.

    def as_of(self, at: datetime, platforms: Sequence[str] | None = None) -> Recorded:
        """The recorded data as of ``at`` (see ``Recorded``), of the platforms named (values),
        or of every platform on the list. ``NothingRecorded`` when no snapshot (of a platform
        asked for) is at or before ``at``; ``UnknownPlatform`` for a value not on the list."""
        moment = to_us(at)
        with self._db.read() as tx:
            head = tx.row(
                f"SELECT {_SNAPSHOT_COLUMNS}, s.platforms_blob FROM snapshot s "
                "WHERE s.taken_at <= ? ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
                (moment,),
            )
            if head is None:
                raise NothingRecorded(at, _first(tx))
            listed_by = _info(head)
            listed = [Platform(v, label) for v, label in _loads(tx, head[-1])]
            values = [p.value for p in listed]
            chosen = listed
            if platforms is not None:
                for value in platforms:
                    if value not in values:
                        raise UnknownPlatform(value, values)
                chosen = [p for p in listed if p.value in set(platforms)]
            data: list[PlatformData] = []
            reads: dict[str, SnapshotInfo] = {}
            for platform in chosen:
                read, platform_data = _read_platform(tx, platform, moment)
                if read is None:
                    raise NothingRecorded(at, _first(tx, platform.value), platform.value)
                reads[platform.value] = read
                data.append(platform_data)
        return Recorded(at, listed, data, listed_by, reads)

    def first(self) -> datetime | None:
        """The time of the first snapshot kept, or None."""
        with self._db.read() as tx:
            return _first(tx)

    def latest(self) -> SnapshotInfo | None:
        """The latest snapshot by time, or None."""
        page = self.page(limit=1)
        return page.snapshots[0] if page.snapshots else None

    def page(self, limit: int = 50, cursor: str | None = None) -> SnapshotPage:
        """Snapshots newest first, ``limit`` at a time; ``cursor`` is a page's ``next``.
        ``ValueError`` for a cursor this did not make."""
        if not 1 <= limit <= 10_000:
            raise ValueError("limit must be between 1 and 10000")
        where = ""
        params: tuple[int, ...] = ()
        if cursor is not None:
            match = _CURSOR.fullmatch(cursor)
            if match is None:
                raise ValueError("not a snapshot page cursor")
            taken, ident = int(match[1]), int(match[2])
            where = "WHERE s.taken_at < ? OR (s.taken_at = ? AND s.id < ?) "
            params = (taken, taken, ident)
        with self._db.read() as tx:
            rows = tx.rows(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshot s {where}"
                "ORDER BY s.taken_at DESC, s.id DESC LIMIT ?",
                (*params, limit + 1),
            )
        infos = [_info(row) for row in rows[:limit]]
        more = len(rows) > limit
        return SnapshotPage(infos, f"{rows[limit - 1][1]}.{rows[limit - 1][0]}" if more else None)

    # Schedule and retention.

    def claim_interval(self, start: datetime) -> bool:
        """Whether this call is the first, of every process and host, to claim the scheduled
        interval that starts at ``start`` (``interval_start``): the one that should record
        it."""
        with self._db.write() as tx:
            won = tx.execute(
                "INSERT INTO record_claim (interval_start, claimed_at) VALUES (?, ?) "
                "ON CONFLICT (interval_start) DO NOTHING",
                (to_us(start), to_us(now_utc())),
            )
        return won == 1

    def prune(self, now: datetime, keep: timedelta) -> Pruned:
        """Remove snapshots taken before ``now - keep``, but never the newest read of a
        platform nor the newest snapshot; then the ad versions no remaining snapshot shows,
        the blobs none refers to, and the claims and audit entries as old."""
        cutoff = to_us(now - keep)
        with self._lock, self._db.write(serial=True) as tx:
            kept: set[int] = set()
            newest = tx.value("SELECT id FROM snapshot ORDER BY taken_at DESC, id DESC LIMIT 1")
            kept.add(newest)
            reads = tx.rows(
                "SELECT r.platform, s.id FROM platform_read r JOIN snapshot s ON s.id = r.snapshot "
                "ORDER BY r.platform, s.taken_at DESC, s.id DESC"
            )
            seen: set[int] = set()
            for platform, snapshot in reads:
                if platform not in seen:  # the platform's newest read by time
                    seen.add(platform)
                    kept.add(snapshot)
            kept.update(v for (v,) in tx.rows(_NEWEST_BY_ID))  # the one its open versions hold
            doomed = [
                (ident,)
                for (ident,) in tx.rows("SELECT id FROM snapshot WHERE taken_at < ?", (cutoff,))
                if ident not in kept
            ]
            versions = blobs = 0
            if doomed:
                tx.executemany("DELETE FROM platform_read WHERE snapshot = ?", doomed)
                tx.executemany("DELETE FROM snapshot WHERE id = ?", doomed)
                versions = tx.execute(_UNSEEN_VERSIONS)
                blobs = tx.execute(_UNUSED_BLOBS)
            tx.execute("DELETE FROM record_claim WHERE interval_start < ?", (cutoff,))
            tx.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
        return Pruned(len(doomed), versions, blobs)


def interval_start(at: datetime, every: timedelta) -> datetime:
    """The start of the scheduled interval ``at`` falls in: intervals of ``every`` counted from
    the epoch, so every process and host names the same interval the same way."""
    step = every // timedelta(microseconds=1)
    if step <= 0:
        raise ValueError("an interval must be longer than 0")
    return from_us(to_us(at) // step * step)


_NEWEST_BY_ID = "SELECT max(snapshot) FROM platform_read GROUP BY platform"
# A closed version is needed while a read of its platform lies in [opened, closed).
_UNSEEN_VERSIONS = (
    "DELETE FROM ad_version WHERE closed IS NOT NULL AND NOT EXISTS ("
    "SELECT 1 FROM platform_read r WHERE r.platform = ad_version.platform "
    "AND r.snapshot >= ad_version.opened AND r.snapshot < ad_version.closed)"
)
_UNUSED_BLOBS = (
    "DELETE FROM blob WHERE id NOT IN (SELECT platforms_blob FROM snapshot) "
    "AND id NOT IN (SELECT fields_blob FROM platform_read) "
    "AND id NOT IN (SELECT accounts_blob FROM platform_read)"
)


def _prepare(data: PlatformData) -> _PlatformInput:
    """What recording needs of one platform, computed before the transaction begins."""
    field_keys = [f.key for f in data.fields]
    accounts = []
    seen: set[str] = set()
    for item in data.accounts:
        ident = item.account.id
        if ident in seen:
            raise ValueError(f"account id {ident!r} appears twice in {data.platform.value}")
        seen.add(ident)
        keys = _unique(item.ad_keys, len(item.rows), ident)
        digest = account_digest(field_keys, keys, item.digest, item.rows)
        accounts.append(_AccountInput(ident, keys, digest, item.rows))
    return _PlatformInput(
        data.platform.value,
        _dumps([[f.key, f.label] for f in data.fields]),
        _dumps([[a.account.id, a.account.name] for a in data.accounts]),
        accounts,
    )


def _unique(ad_keys: list[str] | None, count: int, account: str) -> list[str]:
    """Each ad's key: its upstream id (positions "1".."n" when none were given); a repeated
    key gets "#2", "#3"... so each version has one identity."""
    if ad_keys is None:
        return [str(n) for n in range(1, count + 1)]
    if len(ad_keys) != count:
        raise ValueError(f"account {account!r} has {count} rows but {len(ad_keys)} ad keys")
    if len(set(ad_keys)) == count:
        return list(ad_keys)
    seen: set[str] = set()
    keys = []
    for key in ad_keys:
        unique, n = key, 1
        while unique in seen:
            n += 1
            unique = f"{key}#{n}"
        seen.add(unique)
        keys.append(unique)
    return keys


def _record_platform(
    tx: Tx, platform: int, snapshot: int, item: _PlatformInput, state: _PlatformState
) -> int:
    """Write one platform's read into ``snapshot``; the ads changed. Updates ``state``."""
    changed = 0
    digests = state.digests
    updated: list[tuple[int, str, bytes]] = []
    inserts: list[tuple[Any, ...]] = []
    for account in item.accounts:
        if digests.get(account.id) == account.digest:
            continue
        changed += _record_account(tx, platform, snapshot, account, account.id in digests, inserts)
        digests[account.id] = account.digest
        updated.append((platform, account.id, account.digest))
    if inserts:
        # In key order: the primary key's pages fill up in sequence (smaller, faster).
        inserts.sort(key=_version_key)
        tx.insert_rows("ad_version", _VERSION_COLUMNS, inserts)
    present = {account.id for account in item.accounts}
    gone = [(platform, ident) for ident in digests if ident not in present]
    for _, ident in gone:
        del digests[ident]
        changed += tx.execute(
            "UPDATE ad_version SET closed = ? WHERE platform = ? AND account = ? "
            "AND closed IS NULL",
            (snapshot, platform, ident),
        )
    if gone:
        tx.executemany("DELETE FROM account_state WHERE platform = ? AND account = ?", gone)
    if updated:
        tx.executemany(
            "INSERT INTO account_state (platform, account, digest) VALUES (?, ?, ?) "
            "ON CONFLICT (platform, account) DO UPDATE SET digest = excluded.digest",
            updated,
        )
    tx.execute(
        "INSERT INTO platform_read (platform, snapshot, fields_blob, accounts_blob) "
        "VALUES (?, ?, ?, ?)",
        (platform, snapshot, _blob(tx, item.fields_body), _blob(tx, item.accounts_body)),
    )
    state.last = snapshot
    return changed


def _record_account(
    tx: Tx,
    platform: int,
    snapshot: int,
    account: _AccountInput,
    known: bool,
    inserts: list[tuple[Any, ...]],
) -> int:
    """Write one changed account's closed versions and add its new ones to ``inserts``; the
    ads that appeared, changed or disappeared."""
    texts = encode_rows(account.rows)
    ident = account.id
    if not known:  # never recorded (or gone since): it has no open version to compare with
        inserts.extend(
            (platform, ident, key, snapshot, position, text)
            for position, (key, text) in enumerate(zip(account.keys, texts, strict=True))
        )
        return len(texts)
    current = {
        ad: (opened, position, vals)
        for ad, opened, position, vals in tx.rows(
            "SELECT ad, opened, position, vals FROM ad_version "
            "WHERE platform = ? AND account = ? AND closed IS NULL",
            (platform, ident),
        )
    }
    added = len(inserts)
    closes: list[tuple[Any, ...]] = []
    for position, (key, text) in enumerate(zip(account.keys, texts, strict=True)):
        old = current.pop(key, None)
        if old is not None:
            if old[1] == position and old[2] == text:
                continue
            closes.append((snapshot, platform, ident, key, old[0]))
        inserts.append((platform, ident, key, snapshot, position, text))
    closes.extend((snapshot, platform, ident, key, old[0]) for key, old in current.items())
    if closes:
        tx.executemany(
            "UPDATE ad_version SET closed = ? "
            "WHERE platform = ? AND account = ? AND ad = ? AND opened = ?",
            closes,
        )
    return len(inserts) - added + len(current)


def _read_platform(
    tx: Tx, platform: Platform, moment: int
) -> tuple[SnapshotInfo | None, PlatformData]:
    """A platform's latest read at or before ``moment``, as recorded (tokens empty)."""
    empty = PlatformData(platform, [], [])
    ident = tx.value("SELECT id FROM platform WHERE value = ?", (platform.value,))
    if ident is None:
        return None, empty
    read = tx.row(
        f"SELECT {_SNAPSHOT_COLUMNS}, r.fields_blob, r.accounts_blob FROM platform_read r "
        "JOIN snapshot s ON s.id = r.snapshot WHERE r.platform = ? AND s.taken_at <= ? "
        "ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
        (ident, moment),
    )
    if read is None:
        return None, empty
    info = _info(read)
    fields = [Field(key, label) for key, label in _loads(tx, read[-2])]
    accounts = [(str(a), str(name)) for a, name in _loads(tx, read[-1])]
    versions = tx.rows(
        "SELECT account, ad, vals FROM ad_version "
        "WHERE platform = ? AND opened <= ? AND (closed IS NULL OR closed > ?) "
        "ORDER BY account, position",
        (ident, info.id, info.id),
    )
    # One decoder pass over the platform; each account is then a slice, found by its id.
    rows = decode_rows([vals for _, _, vals in versions])
    keys = [ad for _, ad, _ in versions]
    spans: dict[str, tuple[int, int]] = {}
    start = 0
    for account, group in groupby(account for account, _, _ in versions):
        stop = start + sum(1 for _ in group)
        spans[account] = (start, stop)
        start = stop
    data = []
    for account, name in accounts:
        first, last = spans.get(account, (0, 0))
        data.append(AccountData(Account(account, name, ""), rows[first:last], keys[first:last]))
    return info, PlatformData(platform, fields, data)


def _first(tx: Tx, platform: str | None = None) -> datetime | None:
    if platform is None:
        first = tx.value("SELECT min(taken_at) FROM snapshot")
    else:
        first = tx.value(
            "SELECT min(s.taken_at) FROM platform_read r JOIN snapshot s ON s.id = r.snapshot "
            "JOIN platform p ON p.id = r.platform WHERE p.value = ?",
            (platform,),
        )
    return None if first is None else from_us(int(first))


def _info(row: Sequence[Any]) -> SnapshotInfo:
    ident, taken, trigger, platforms, accounts, ads, changed = row[:7]
    return SnapshotInfo(
        int(ident), from_us(int(taken)), str(trigger), platforms, accounts, ads, changed
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(tx: Tx, blob: int) -> Any:
    return json.loads(tx.value("SELECT body FROM blob WHERE id = ?", (blob,)))


def _blob(tx: Tx, body: str) -> int:
    """The id of the blob holding ``body``, stored now if it is new."""
    digest = blob_digest(body)
    found = tx.value("SELECT id FROM blob WHERE digest = ?", (digest,))
    if found is None:
        found = tx.value(
            "INSERT INTO blob (digest, body) VALUES (?, ?) RETURNING id", (digest, body)
        )
    return int(found)
