"""Recording a read, storing only what changed since the previous recording of each platform.

An ad is a chain of versions keyed by (platform, account id, ad key), each with the snapshot
that opened it and the one that closed it, its position and its values as exact text
(``values.py``). An account whose digest equals the last one recorded costs nothing: no ad row
is read or written. A changed account is compared ad by ad with its open versions; an account
that left the list has its versions closed. The platform list, each platform's fields and its
accounts are content-addressed blobs, so an unchanged re-record writes one snapshot row and one
row per platform read.

The digests are kept in memory by ``Snapshots`` (``PlatformState``), and trusted only while the
platform's newest read in the database is the one this process knows (``load_state``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from ..records import PlatformData, Row, unique_keys
from .db import Tx
from .snapshot_info import dumps, store_blob
from .values import account_digest, encode_rows

_VERSION_COLUMNS = ("platform", "account", "ad", "opened", "position", "vals")
# Versions written at once at most: the texts of a large changed read are not all held.
INSERT_BATCH = 20_000
_version_key = itemgetter(1, 2)  # (account, ad): the primary key's order within a platform


@dataclass
class PlatformState:
    """The newest read of a platform this process knows, and its accounts' digests then."""

    last: int | None
    digests: dict[str, bytes]


# Accounts whose rows a read let go of, known unchanged (``Snapshots.slim``): (platform
# value, account id) -> how many ads it had.
Omitted = Mapping[tuple[str, str], int]


class Superseded(ValueError):
    """A read that let go of its unchanged accounts' rows finds them changed in the store (by
    another process, meanwhile): it cannot be recorded whole, so it is not recorded."""


@dataclass
class _AccountInput:
    id: str
    keys: list[str]
    digest: bytes
    rows: Sequence[Row] = field(repr=False)
    count: int = 0  # its ads
    omitted: bool = False  # its rows were let go of: unchanged when the read was handed over


@dataclass
class PlatformInput:
    """What recording needs of one platform's read, computed before the transaction."""

    value: str
    fields_body: str
    accounts_body: str
    accounts: list[_AccountInput]

    @property
    def ads(self) -> int:
        """The ads read."""
        return sum(a.count for a in self.accounts)


def prepare(data: PlatformData, omitted: Omitted | None = None) -> PlatformInput:
    """What recording needs of one platform, computed before the transaction begins
    (``omitted``: the accounts whose rows were let go of, with their counts)."""
    field_keys = [f.key for f in data.fields]
    accounts = []
    seen: set[str] = set()
    value = data.platform.value
    for item in data.accounts:
        ident = item.account.id
        if ident in seen:
            raise ValueError(f"account id {ident!r} appears twice in {value}")
        seen.add(ident)
        count = None if omitted is None else omitted.get((value, ident))
        if count is not None:
            if item.digest is None:
                raise ValueError(f"account {ident!r} let go of its rows without a digest")
            digest = account_digest(field_keys, None, item.digest, ())
            accounts.append(_AccountInput(ident, [], digest, [], count, omitted=True))
            continue
        keys = _unique(item.ad_keys, len(item.rows), ident)
        digest = account_digest(field_keys, keys, item.digest, item.rows)
        accounts.append(_AccountInput(ident, keys, digest, item.rows, len(item.rows)))
    return PlatformInput(
        data.platform.value,
        dumps([[f.key, f.label] for f in data.fields]),
        dumps([[a.account.id, a.account.name] for a in data.accounts]),
        accounts,
    )


def _unique(ad_keys: list[str] | None, count: int, account: str) -> list[str]:
    """Each ad's key: its upstream id (positions "1".."n" when none were given), made unique
    (``records.unique_keys``) so each version has one identity."""
    if ad_keys is None:
        return [str(n) for n in range(1, count + 1)]
    if len(ad_keys) != count:
        raise ValueError(f"account {account!r} has {count} rows but {len(ad_keys)} ad keys")
    return unique_keys(ad_keys)


def platform_id(tx: Tx, upstream: int, value: str, known: dict[str, int]) -> int:
    """The id of platform ``value`` of ``upstream`` (``known``: the ids this process has
    seen), added if new."""
    found = known.get(value)
    if found is not None:
        return found
    found = tx.value("SELECT id FROM platform WHERE upstream = ? AND value = ?", (upstream, value))
    if found is None:
        found = tx.value(
            "INSERT INTO platform (upstream, value) VALUES (?, ?) RETURNING id", (upstream, value)
        )
    return int(found)


def load_state(tx: Tx, platform: int, known: PlatformState | None) -> PlatformState:
    """The platform's digests, a copy to change; reloaded when another process recorded."""
    last = tx.value("SELECT max(snapshot) FROM platform_read WHERE platform = ?", (platform,))
    if known is not None and known.last == last:
        return PlatformState(last, dict(known.digests))
    rows = tx.rows("SELECT account, digest FROM account_state WHERE platform = ?", (platform,))
    return PlatformState(last, {account: bytes(digest) for account, digest in rows})


def record_platform(
    tx: Tx, platform: int, snapshot: int, item: PlatformInput, state: PlatformState
) -> int:
    """Write one platform's read into ``snapshot``; the ads changed. Updates ``state``."""
    changed = 0
    digests = state.digests
    updated: list[tuple[int, str, bytes]] = []
    inserts: list[tuple[Any, ...]] = []
    for account in item.accounts:
        if digests.get(account.id) == account.digest:
            continue
        if account.omitted:
            raise Superseded(
                f"account {account.id!r} of {item.value} was recorded changed by another "
                "process since this read was handed over, and this read let go of its rows"
            )
        changed += _record_account(tx, platform, snapshot, account, account.id in digests, inserts)
        digests[account.id] = account.digest
        updated.append((platform, account.id, account.digest))
        if len(inserts) >= INSERT_BATCH:
            _insert(tx, inserts)
    _insert(tx, inserts)
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
        (platform, snapshot, store_blob(tx, item.fields_body), store_blob(tx, item.accounts_body)),
    )
    state.last = snapshot
    return changed


def _insert(tx: Tx, inserts: list[tuple[Any, ...]]) -> None:
    """Write the versions collected so far, and forget them."""
    if inserts:
        # In key order: the primary key's pages fill up in sequence (smaller, faster).
        inserts.sort(key=_version_key)
        tx.insert_rows("ad_version", _VERSION_COLUMNS, inserts)
        inserts.clear()


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
