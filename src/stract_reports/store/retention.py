"""The schedule's claims and retention: which process records a scheduled interval, and which
snapshots are old enough to forget (never a platform's newest read, nor the newest snapshot).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .db import Tx
from .snapshot_info import Pruned
from .times import from_us, now_utc, to_us

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


def interval_start(at: datetime, every: timedelta) -> datetime:
    """The start of the scheduled interval ``at`` falls in: intervals of ``every`` counted from
    the epoch, so every process and host names the same interval the same way."""
    step = every // timedelta(microseconds=1)
    if step <= 0:
        raise ValueError("an interval must be longer than 0")
    return from_us(to_us(at) // step * step)


def claim(tx: Tx, upstream: int, start: datetime) -> bool:
    """Whether this transaction is the first to claim ``upstream``'s interval starting at
    ``start``."""
    won = tx.execute(
        "INSERT INTO record_claim (upstream, interval_start, claimed_at) VALUES (?, ?, ?) "
        "ON CONFLICT (upstream, interval_start) DO NOTHING",
        (upstream, to_us(start), to_us(now_utc())),
    )
    return won == 1


def prune(tx: Tx, upstream: int, now: datetime, keep: timedelta) -> Pruned:
    """Remove what ``Snapshots.prune`` says of ``upstream``'s snapshots, in the serial
    writer's transaction ``tx``."""
    cutoff = to_us(now - keep)
    kept: set[int] = set()
    newest = tx.value(
        "SELECT id FROM snapshot WHERE upstream = ? ORDER BY taken_at DESC, id DESC LIMIT 1",
        (upstream,),
    )
    kept.add(newest)
    reads = tx.rows(
        "SELECT r.platform, s.id FROM platform_read r JOIN snapshot s ON s.id = r.snapshot "
        "WHERE s.upstream = ? ORDER BY r.platform, s.taken_at DESC, s.id DESC",
        (upstream,),
    )
    seen: set[int] = set()
    for platform, snapshot in reads:
        if platform not in seen:  # the platform's newest read by time
            seen.add(platform)
            kept.add(snapshot)
    kept.update(v for (v,) in tx.rows(_NEWEST_BY_ID))  # the one its open versions hold
    doomed = [
        (ident,)
        for (ident,) in tx.rows(
            "SELECT id FROM snapshot WHERE upstream = ? AND taken_at < ?", (upstream, cutoff)
        )
        if ident not in kept
    ]
    versions = blobs = 0
    if doomed:
        tx.executemany("DELETE FROM platform_read WHERE snapshot = ?", doomed)
        tx.executemany("DELETE FROM snapshot WHERE id = ?", doomed)
        versions = tx.execute(_UNSEEN_VERSIONS)
        blobs = tx.execute(_UNUSED_BLOBS)
    tx.execute(
        "DELETE FROM record_claim WHERE upstream = ? AND interval_start < ?", (upstream, cutoff)
    )
    tx.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
    return Pruned(len(doomed), versions, blobs)
