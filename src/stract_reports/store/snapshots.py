"""Snapshots of upstream reads: record what a report read, read it back as of a time, list,
claim a scheduled interval, and forget what retention no longer keeps.

``Snapshots`` is the store's side of history for one process: it holds what recording keeps in
memory (the platforms' ids, their accounts' digests) and runs each operation in one
transaction. The work itself is in ``changes`` (recording only changes), ``readback`` (a state
as of a time, the list) and ``retention`` (claims and pruning).

Each ``Snapshots`` is bound to one upstream (``upstream_identity`` of its API URL): it records
under that name and reads back, lists, claims and prunes only that upstream's snapshots, so the
servers of several upstreams (the demo's simulator, the real API, a staging API) may share a
store without their histories ever mixing.

Recordings are serial writers (``Database.write(serial=True)``): snapshot ids grow in the order
recordings commit, and a snapshot's state is exactly the versions open at its id. Times need
not grow with ids (a slow read may commit after a faster, later one): a time picks a snapshot
by ``taken_at``, then its id picks the versions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ..records import AccountData, Platform, PlatformData
from .changes import (
    Omitted,
    PlatformState,
    Superseded,
    load_state,
    platform_id,
    prepare,
    record_platform,
)
from .db import Database, Tx
from .readback import first_taken, locate, read_located, read_page
from .retention import claim, interval_start, prune
from .snapshot_info import (
    TRIGGERS,
    Located,
    Pruned,
    Recorded,
    SnapshotInfo,
    SnapshotPage,
    dumps,
    store_blob,
    upstream_id,
)
from .times import from_us, to_us
from .values import account_digest


class Snapshots:
    """Snapshots in one store (see the module)."""

    def __init__(self, db: Database, upstream: str = "") -> None:
        self._db = db
        self.upstream = upstream  # the identity it records under and reads back
        self._upstream_id = 0  # its id, once known (0: none yet)
        self._lock = threading.Lock()  # one recording at a time in this process
        self._platform_ids: dict[str, int] = {}
        self._states: dict[int, PlatformState] = {}

    def _upstream(self, tx: Tx, *, add: bool = False) -> int:
        """This upstream's id (0 while it has none: nothing was recorded of it)."""
        if not self._upstream_id:
            self._upstream_id = upstream_id(tx, self.upstream, add=add)
        return self._upstream_id

    def record(
        self,
        platforms: Sequence[Platform],
        data: Sequence[PlatformData],
        *,
        at: datetime,
        trigger: str,
        omitted: Omitted | None = None,
    ) -> SnapshotInfo:
        """Record one complete read: the upstream's whole platform list, the platforms read in
        full, the time of the read (aware) and why (``TRIGGERS``); ``omitted``: the accounts
        whose rows ``slim`` let go of. ``ValueError`` for input that cannot be recorded exactly
        (nothing is written then; ``Superseded`` for a slimmed read the store has moved past);
        ``StoreUnavailable``."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
        taken = to_us(at)
        listed = [p.value for p in platforms]
        if len(set(listed)) != len(listed):
            raise ValueError("the platform list names a platform twice")
        read = [d.platform.value for d in data]
        if len(set(read)) != len(read) or not set(read) <= set(listed):
            raise ValueError("each platform read must be in the platform list, once")
        inputs = [prepare(d, omitted) for d in data]
        list_body = dumps([[p.value, p.label] for p in platforms])
        counts = (len(data), sum(len(p.accounts) for p in inputs))
        ads = sum(p.ads for p in inputs)
        with self._lock:
            states: dict[int, PlatformState] = {}
            ids: dict[str, int] = {}
            with self._db.write(serial=True) as tx:
                upstream = upstream_id(tx, self.upstream, add=True)
                snapshot = tx.value(
                    "INSERT INTO snapshot (upstream, taken_at, trigger, platforms_blob, "
                    "platforms, accounts, ads, changed) VALUES (?, ?, ?, ?, ?, ?, ?, 0) "
                    "RETURNING id",
                    (upstream, taken, trigger, store_blob(tx, list_body), *counts, ads),
                )
                changed = 0
                for item in inputs:
                    known = self._platform_ids
                    platform = ids[item.value] = platform_id(tx, upstream, item.value, known)
                    state = load_state(tx, platform, self._states.get(platform))
                    changed += record_platform(tx, platform, snapshot, item, state)
                    states[platform] = state
                if changed:
                    tx.execute("UPDATE snapshot SET changed = ? WHERE id = ?", (changed, snapshot))
            # Only what committed is remembered.
            self._upstream_id = upstream
            self._platform_ids.update(ids)
            self._states.update(states)
        return SnapshotInfo(int(snapshot), from_us(taken), trigger, *counts, ads, changed)

    def slim(
        self, data: Sequence[PlatformData], counts: Omitted | None = None
    ) -> tuple[list[PlatformData], Omitted]:
        """``data`` without the rows (and ad keys) of the accounts whose digest equals the one
        this process last recorded, and what they had (``counts``: how many ads the accounts
        whose rows are not in the records have): a read handed to the recorder keeps no copy
        of what did not change. In memory only: no statement runs. ``record`` refuses
        (``Superseded``) a slimmed read whose accounts another process has changed since."""
        out: list[PlatformData] = []
        omitted: dict[tuple[str, str], int] = {}
        for platform in data:
            value = platform.platform.value
            state = self._states.get(self._platform_ids.get(value, 0))
            if state is None:
                out.append(platform)
                continue
            keys = [f.key for f in platform.fields]
            accounts = []
            for account in platform.accounts:
                known = state.digests.get(account.account.id)
                given = account.digest
                if given is None or known != account_digest(keys, None, given, ()):
                    accounts.append(account)
                    continue
                key = (value, account.account.id)
                omitted[key] = len(account.rows) if counts is None else counts[key]
                accounts.append(AccountData(account.account, [], None, given))
            out.append(PlatformData(platform.platform, platform.fields, accounts))
        return out, omitted

    def as_of(self, at: datetime, platforms: Sequence[str] | None = None) -> Recorded:
        """The recorded data as of ``at`` (see ``Recorded``), of the platforms named (values),
        or of every platform on the list. ``NothingRecorded`` when no snapshot (of a platform
        asked for) is at or before ``at``; ``UnknownPlatform`` for a value not on the list."""
        with self._db.read() as tx:
            upstream = self._upstream(tx)
            return read_located(tx, upstream, locate(tx, upstream, at, platforms))

    def locate(self, at: datetime, platforms: Sequence[str] | None = None) -> Located:
        """Which snapshots ``as_of`` would read (a few indexed rows, no ad): what a cache of
        the data read back is keyed by (``Located.key``)."""
        with self._db.read() as tx:
            return locate(tx, self._upstream(tx), at, platforms)

    def read(self, located: Located, *, literals: bool = False) -> Recorded:
        """The data of the snapshots ``located`` names (``NothingRecorded`` if retention has
        removed one since). ``literals``: numbers with a fraction or an exponent come as their
        literal's bytes, as a live read's pages hold them (``records.exact``), for a report to
        lay out: it converts whole columns of them at once."""
        with self._db.read() as tx:
            return read_located(tx, self._upstream(tx), located, literals=literals)

    def first(self) -> datetime | None:
        """The time of the first snapshot kept, or None."""
        with self._db.read() as tx:
            return first_taken(tx, self._upstream(tx))

    def latest(self) -> SnapshotInfo | None:
        """The latest snapshot by time, or None."""
        page = self.page(limit=1)
        return page.snapshots[0] if page.snapshots else None

    def page(self, limit: int = 50, cursor: str | None = None) -> SnapshotPage:
        """Snapshots newest first, ``limit`` at a time; ``cursor`` is a page's ``next``.
        ``ValueError`` for a cursor this did not make."""
        with self._db.read() as tx:
            return read_page(tx, self._upstream(tx), limit, cursor)

    def claim_interval(self, start: datetime) -> bool:
        """Whether this call is the first, of every process and host, to claim the scheduled
        interval that starts at ``start`` (``interval_start``): the one that should record
        it."""
        with self._db.write() as tx:
            return claim(tx, self._upstream(tx, add=True), start)

    def prune(self, now: datetime, keep: timedelta) -> Pruned:
        """Remove snapshots taken before ``now - keep``, but never the newest read of a
        platform nor the newest snapshot; then the ad versions no remaining snapshot shows,
        the blobs none refers to, and the claims and audit entries as old."""
        with self._lock, self._db.write(serial=True) as tx:
            return prune(tx, self._upstream(tx), now, keep)


def upstream_identity(api_url: str) -> str:
    """The name an upstream's history is kept under: its API URL with the scheme and host in
    lower case, no default port, user, password, query or fragment, and no trailing slash
    (``HTTPS://Sidebar.Stract.to:443/api/`` -> ``https://sidebar.stract.to/api``). Never a
    token: nothing but the place is kept."""
    parts = urlsplit(api_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: kept as written, it names a place all the same
        port = None
        host = parts.netloc.rpartition("@")[2].lower()
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


__all__ = [
    "TRIGGERS",
    "Located",
    "Pruned",
    "Recorded",
    "SnapshotInfo",
    "SnapshotPage",
    "Snapshots",
    "Superseded",
    "interval_start",
    "upstream_identity",
]
