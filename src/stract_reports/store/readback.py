"""Reading snapshots back: which snapshots hold the state of each platform as of a time (its
latest read at or before it), that state exactly as it was recorded (tokens empty, ``ad_keys``
filled), and the list of snapshots.

A time picks a snapshot by ``taken_at`` (then by id, for equal times); the snapshot's id then
picks the ad versions open at it. Each platform comes from its own latest read, so reads of
different platforms at different times combine.

A platform's versions are read in one statement and decoded in one pass of the strict decoder,
in C: PostgreSQL sends one row per account (its texts joined in order by the server), SQLite
one per ad; each account's rows are then a slice. A report asks for float literals as bytes
(``Snapshots.read``), as a live read's pages hold them, and lays out whole columns at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter

from ..errors import UnknownPlatform
from ..records import Account, AccountData, Field, Platform, PlatformData
from .db import Tx
from .errors import NothingRecorded
from .snapshot_info import (
    SNAPSHOT_COLUMNS,
    Located,
    Recorded,
    SnapshotInfo,
    SnapshotPage,
    load_blob,
    snapshot_info,
)
from .times import from_us, to_us
from .values import decode_rows

_CURSOR = re.compile(r"(-?\d{1,20})\.(\d{1,20})")


def locate(tx: Tx, upstream: int, at: datetime, platforms: Sequence[str] | None) -> Located:
    """Which snapshots of ``upstream`` say what it was as of ``at`` (``Snapshots.locate``)."""
    moment = to_us(at)
    head = tx.row(
        f"SELECT {SNAPSHOT_COLUMNS}, s.platforms_blob FROM snapshot s "
        "WHERE s.upstream = ? AND s.taken_at <= ? ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
        (upstream, moment),
    )
    if head is None:
        raise NothingRecorded(at, first_taken(tx, upstream))
    listed = [Platform(v, label) for v, label in load_blob(tx, head[-1])]
    values = [p.value for p in listed]
    chosen = listed
    if platforms is not None:
        for value in platforms:
            if value not in values:
                raise UnknownPlatform(value, values)
        chosen = [p for p in listed if p.value in set(platforms)]
    reads: dict[str, SnapshotInfo] = {}
    for platform in chosen:
        read = tx.row(
            f"SELECT {SNAPSHOT_COLUMNS} FROM platform_read r "
            "JOIN snapshot s ON s.id = r.snapshot JOIN platform p ON p.id = r.platform "
            "WHERE p.upstream = ? AND p.value = ? AND s.taken_at <= ? "
            "ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
            (upstream, platform.value, moment),
        )
        if read is None:
            raise NothingRecorded(at, first_taken(tx, upstream, platform.value), platform.value)
        reads[platform.value] = snapshot_info(read)
    return Located(at, listed, snapshot_info(head), reads)


def read_located(tx: Tx, upstream: int, located: Located, *, literals: bool = False) -> Recorded:
    """The data of the platforms ``located`` names, as recorded (``literals``: see
    ``Snapshots.read``); ``NothingRecorded`` when retention removed a snapshot it names
    meanwhile."""
    data = []
    for platform in located.platforms:
        read = located.reads.get(platform.value)
        if read is not None:
            data.append(_read_platform(tx, upstream, platform, read, located.at, literals))
    return Recorded(located.at, located.platforms, located.listed_by, located.reads, data)


def _read_platform(
    tx: Tx, upstream: int, platform: Platform, read: SnapshotInfo, at: datetime, literals: bool
) -> PlatformData:
    """A platform's read in snapshot ``read``, as recorded (tokens empty)."""
    found = tx.row(
        "SELECT p.id, r.fields_blob, r.accounts_blob FROM platform_read r "
        "JOIN platform p ON p.id = r.platform "
        "WHERE p.upstream = ? AND p.value = ? AND r.snapshot = ?",
        (upstream, platform.value, read.id),
    )
    if found is None:  # pruned since it was located
        raise NothingRecorded(at, first_taken(tx, upstream, platform.value), platform.value)
    ident, fields_blob, accounts_blob = found
    fields = [Field(key, label) for key, label in load_blob(tx, fields_blob)]
    accounts = [(str(a), str(name)) for a, name in load_blob(tx, accounts_blob)]
    sizes, keys, texts = _versions(tx, ident, read.id)
    # One decoder pass over the platform; each account is then a slice of it.
    rows = decode_rows(texts, literals=literals)
    del texts
    spans: dict[str, tuple[int, int]] = {}
    start = 0
    for account, size in sizes.items():
        spans[account] = (start, start + size)
        start += size
    data = []
    for account, name in accounts:
        first, last = spans.get(account, (0, 0))
        data.append(AccountData(Account(account, name, ""), rows[first:last], keys[first:last]))
    return PlatformData(platform, fields, data)


_OPEN_AT = "FROM ad_version WHERE platform = ? AND opened <= ? AND (closed IS NULL OR closed > ?)"


def _versions(tx: Tx, platform: int, snapshot: int) -> tuple[dict[str, int], list[str], list[str]]:
    """The ad versions of ``platform`` open at ``snapshot``, account after account, each
    account's in position order: how many each account has (in the order they come), their
    ad keys, and their values' texts, joined by commas in any number of pieces."""
    if tx.dialect == "postgresql":
        # One row per account, its texts joined by the server: a few hundred rows to convert
        # and send instead of one per ad (half the time of a 300,000-ad read).
        grouped = tx.rows(
            "SELECT account, array_agg(ad ORDER BY position), "
            f"string_agg(vals, ',' ORDER BY position) {_OPEN_AT} GROUP BY account",
            (platform, snapshot, snapshot),
        )
        sizes = {account: len(ads) for account, ads, _ in grouped}
        keys = list(chain.from_iterable(map(itemgetter(1), grouped)))
        return sizes, keys, list(map(itemgetter(2), grouped))
    # SQLite orders no aggregate before 3.44: one row per ad, an account's rows together.
    versions = tx.rows(
        f"SELECT account, ad, vals {_OPEN_AT} ORDER BY account, position",
        (platform, snapshot, snapshot),
    )
    sizes = dict(Counter(map(itemgetter(0), versions)))  # in the order they come, in C
    return sizes, list(map(itemgetter(1), versions)), list(map(itemgetter(2), versions))


def first_taken(tx: Tx, upstream: int, platform: str | None = None) -> datetime | None:
    """The time of ``upstream``'s first snapshot kept (of ``platform``, when named), or None."""
    if platform is None:
        first = tx.value("SELECT min(taken_at) FROM snapshot WHERE upstream = ?", (upstream,))
    else:
        first = tx.value(
            "SELECT min(s.taken_at) FROM platform_read r JOIN snapshot s ON s.id = r.snapshot "
            "JOIN platform p ON p.id = r.platform WHERE p.upstream = ? AND p.value = ?",
            (upstream, platform),
        )
    return None if first is None else from_us(int(first))


def read_page(tx: Tx, upstream: int, limit: int, cursor: str | None) -> SnapshotPage:
    """``upstream``'s snapshots newest first (see ``Snapshots.page``)."""
    if not 1 <= limit <= 10_000:
        raise ValueError("limit must be between 1 and 10000")
    where = "WHERE s.upstream = ? "
    params: tuple[int, ...] = (upstream,)
    if cursor is not None:
        match = _CURSOR.fullmatch(cursor)
        if match is None:
            raise ValueError("not a snapshot page cursor")
        taken, ident = int(match[1]), int(match[2])
        where += "AND (s.taken_at < ? OR (s.taken_at = ? AND s.id < ?)) "
        params += (taken, taken, ident)
    rows = tx.rows(
        f"SELECT {SNAPSHOT_COLUMNS} FROM snapshot s {where}"
        "ORDER BY s.taken_at DESC, s.id DESC LIMIT ?",
        (*params, limit + 1),
    )
    infos = [snapshot_info(row) for row in rows[:limit]]
    more = len(rows) > limit
    return SnapshotPage(infos, f"{rows[limit - 1][1]}.{rows[limit - 1][0]}" if more else None)
