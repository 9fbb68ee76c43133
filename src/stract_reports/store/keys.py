"""Scoped access keys and saved views, as stored (the web layer applies them).

A key is 32 random bytes, URL-safe base64 (43 characters), shown once when it is made; the
store keeps its SHA-256, which is enough for a random secret of that size (no salt or slow
hash is needed: nobody can guess their way to a preimage). A view id is made the same way and
stored the same way. Neither a key nor a view id is ever in a column, a message or a log line.

A key's ``Scope`` narrows what it sees: platforms (values), accounts ([platform, id] pairs)
and columns (labels); an empty list narrows nothing. A view belongs to the key it was made
with: once that key is revoked or expired, ``Views.get`` no longer finds the view.

Use counts are written in batches (``Keys.record_uses``; the ``Recorder`` calls it at most once
a minute per key), not once per request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Database, Tx
from .errors import NameTaken, NotFound
from .times import from_us, to_us

# Bounds on what a scope and a name may hold: generous for a person, small for a column.
MAX_NAME = 64
MAX_ENTRY = 200
MAX_ENTRIES = 1000
# A credential presented longer than this is no key of ours: no need to hash it.
_MAX_PRESENTED = 256


class ScopeError(ValueError):
    """A scope (or a name) that cannot be stored; the message says what is wrong."""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScopeError(f"{what} must be a non-empty text")
    if len(value) > MAX_ENTRY or not value.isprintable():
        raise ScopeError(f"{what} must be printable and at most {MAX_ENTRY} characters")
    return value


def _distinct(items: tuple[Any, ...], what: str) -> None:
    if len(items) > MAX_ENTRIES:
        raise ScopeError(f"at most {MAX_ENTRIES} {what}")
    if len(set(items)) != len(items):
        raise ScopeError(f"{what} repeat an entry")


@dataclass(frozen=True)
class Scope:
    """What a key may see; every empty part means "all" (see the module)."""

    platforms: tuple[str, ...] = ()
    accounts: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for value in self.platforms:
            _text(value, "a platform")
        for pair in self.accounts:
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise ScopeError("an account is a (platform, account id) pair")
            _text(pair[0], "an account's platform")
            _text(pair[1], "an account id")
            if self.platforms and pair[0] not in self.platforms:
                raise ScopeError(
                    f"account {pair[0]}:{pair[1]} is on a platform outside the scope's platforms"
                )
        for label in self.columns:
            _text(label, "a column")
        _distinct(self.platforms, "platforms")
        _distinct(self.accounts, "accounts")
        _distinct(tuple(c.strip().lower() for c in self.columns), "columns")

    @property
    def full(self) -> bool:
        """Whether the scope narrows nothing."""
        return not (self.platforms or self.accounts or self.columns)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(
            {
                "platforms": list(self.platforms),
                "accounts": [list(pair) for pair in self.accounts],
                "columns": list(self.columns),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Scope:
        """Read a stored scope, checking it again; ``ScopeError``."""
        try:
            raw = json.loads(text)
        except ValueError:
            raise ScopeError("a scope is a JSON object") from None
        if not isinstance(raw, dict) or set(raw) - {"platforms", "accounts", "columns"}:
            raise ScopeError("a scope has only platforms, accounts and columns")
        parts = {name: raw.get(name, []) for name in ("platforms", "accounts", "columns")}
        if not all(isinstance(part, list) for part in parts.values()):
            raise ScopeError("a scope's platforms, accounts and columns are lists")
        if not all(isinstance(pair, list) for pair in parts["accounts"]):
            raise ScopeError("an account is a [platform, account id] pair")
        return cls(
            tuple(parts["platforms"]),
            tuple(tuple(pair) for pair in parts["accounts"]),
            tuple(parts["columns"]),
        )


@dataclass(frozen=True)
class KeyRecord:
    """A stored key (never the key itself)."""

    id: int
    name: str
    scope: Scope
    created: datetime
    expires: datetime | None
    revoked: datetime | None
    last_used: datetime | None
    uses: int

    def active(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked is None and (self.expires is None or now < self.expires)


@dataclass(frozen=True)
class ViewRecord:
    """A stored view (never its id) with the key it was made with."""

    id: int
    name: str
    key: KeyRecord
    report: str
    format: str
    query: str
    created: datetime
    revoked: datetime | None


def check_name(name: str) -> str:
    """A key or view name: printable, no surrounding spaces, 1 to ``MAX_NAME`` characters."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise ScopeError(f"a name has 1 to {MAX_NAME} characters")
    if not name.isprintable() or name != name.strip():
        raise ScopeError("a name is printable, without spaces around it")
    return name


def new_secret() -> str:
    """A fresh key or view id: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> bytes:
    """What the store keeps of a key or view id."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def _time(value: Any) -> datetime | None:
    return None if value is None else from_us(int(value))


_KEY_COLUMNS = "k.id, k.name, k.scope, k.created, k.expires, k.revoked, k.last_used, k.uses"


def _key(row: tuple[Any, ...]) -> KeyRecord:
    ident, name, scope, created, expires, revoked, last_used, uses = row[:8]
    return KeyRecord(
        int(ident),
        name,
        Scope.from_json(scope),
        from_us(int(created)),
        _time(expires),
        _time(revoked),
        _time(last_used),
        int(uses),
    )


class Keys:
    """Scoped keys in one store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, name: str, scope: Scope, *, now: datetime, expires: datetime | None = None
    ) -> tuple[KeyRecord, str]:
        """Make a key; the record and the key itself, which is not kept and cannot be shown
        again. ``NameTaken``; ``ScopeError`` for a bad name or an expiry not after ``now``."""
        check_name(name)
        if expires is not None and expires <= now:
            raise ScopeError("a key's expiry must be in the future")
        secret = new_secret()
        with self._db.write() as tx:
            if tx.value("SELECT 1 FROM access_key WHERE name = ?", (name,)):
                raise NameTaken(f"a key named {name!r} exists (revoked keys keep their names)")
            tx.execute(
                "INSERT INTO access_key (name, hash, scope, created, expires) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    name,
                    secret_hash(secret),
                    scope.to_json(),
                    to_us(now),
                    None if expires is None else to_us(expires),
                ),
            )
            record = _find_key(tx, name)
        assert record is not None
        return record, secret

    def verify(self, presented: str, now: datetime) -> KeyRecord | None:
        """The key ``presented`` is, if it is one and active at ``now``; else None."""
        if not presented or len(presented) > _MAX_PRESENTED:
            return None
        with self._db.read() as tx:
            row = tx.row(
                f"SELECT {_KEY_COLUMNS} FROM access_key k WHERE k.hash = ?",
                (secret_hash(presented),),
            )
        if row is None:
            return None
        record = _key(row)
        return record if record.active(now) else None

    def get(self, name: str) -> KeyRecord | None:
        """The key named ``name`` (active or not), or None."""
        with self._db.read() as tx:
            return _find_key(tx, name)

    def list_all(self) -> list[KeyRecord]:
        """Every key, revoked and expired ones too, by name."""
        with self._db.read() as tx:
            rows = tx.rows(f"SELECT {_KEY_COLUMNS} FROM access_key k ORDER BY k.name")
        return [_key(row) for row in rows]

    def revoke(self, name: str, now: datetime) -> KeyRecord:
        """Revoke a key (and so every view made with it); revoking twice keeps the first
        time. ``NotFound``."""
        with self._db.write() as tx:
            tx.execute(
                "UPDATE access_key SET revoked = ? WHERE name = ? AND revoked IS NULL",
                (to_us(now), name),
            )
            record = _find_key(tx, name)
        if record is None:
            raise NotFound(f"no key named {name!r}")
        return record

    def record_uses(self, uses: Mapping[int, tuple[datetime, int]]) -> None:
        """Add batched uses: key id -> (last use, how many uses since the last batch)."""
        if not uses:
            return
        with self._db.write() as tx:
            tx.executemany(
                "UPDATE access_key SET uses = uses + ?, last_used = CASE "
                "WHEN last_used IS NULL OR last_used < ? THEN ? ELSE last_used END WHERE id = ?",
                [(count, to_us(at), to_us(at), ident) for ident, (at, count) in uses.items()],
            )


def _find_key(tx: Tx, name: str) -> KeyRecord | None:
    row = tx.row(f"SELECT {_KEY_COLUMNS} FROM access_key k WHERE k.name = ?", (name,))
    return None if row is None else _key(row)


_VIEW_COLUMNS = "v.id, v.name, v.report, v.format, v.query, v.created, v.revoked"


def _view(row: tuple[Any, ...]) -> ViewRecord:
    ident, name, report, fmt, query, created, revoked = row[:7]
    return ViewRecord(
        int(ident),
        name,
        _key(row[7:]),
        report,
        fmt,
        query,
        from_us(int(created)),
        _time(revoked),
    )


_VIEWS = (
    f"SELECT {_VIEW_COLUMNS}, {_KEY_COLUMNS} FROM saved_view v JOIN access_key k ON k.id = v.key_id"
)


class Views:
    """Saved views in one store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, name: str, key_name: str, report: str, fmt: str, query: str, *, now: datetime
    ) -> tuple[ViewRecord, str]:
        """Save a view made with an active key; the record and the view id, which is not kept
        and cannot be shown again. ``NameTaken``, ``NotFound`` (no such active key)."""
        check_name(name)
        for what, text in (("report", report), ("format", fmt)):
            _text(text, f"a view's {what}")
        if len(query) > 4000 or not query.isprintable():
            raise ScopeError("a view's query is printable and at most 4000 characters")
        secret = new_secret()
        with self._db.write() as tx:
            key = _find_key(tx, key_name)
            if key is None or not key.active(now):
                raise NotFound(f"no active key named {key_name!r}")
            if tx.value("SELECT 1 FROM saved_view WHERE name = ?", (name,)):
                raise NameTaken(f"a view named {name!r} exists (revoked views keep their names)")
            tx.execute(
                "INSERT INTO saved_view (name, hash, key_id, report, format, query, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, secret_hash(secret), key.id, report, fmt, query, to_us(now)),
            )
            row = tx.row(f"{_VIEWS} WHERE v.name = ?", (name,))
        assert row is not None
        return _view(row), secret

    def get(self, view_id: str, now: datetime) -> ViewRecord | None:
        """The view ``view_id`` names, while neither it nor its key is revoked and the key has
        not expired at ``now``; else None."""
        if not view_id or len(view_id) > _MAX_PRESENTED:
            return None
        with self._db.read() as tx:
            row = tx.row(f"{_VIEWS} WHERE v.hash = ?", (secret_hash(view_id),))
        if row is None:
            return None
        view = _view(row)
        return view if view.revoked is None and view.key.active(now) else None

    def list_all(self) -> list[ViewRecord]:
        """Every view, revoked ones too, by name."""
        with self._db.read() as tx:
            rows = tx.rows(f"{_VIEWS} ORDER BY v.name")
        return [_view(row) for row in rows]

    def revoke(self, name: str, now: datetime) -> ViewRecord:
        """Revoke a view; ``NotFound``."""
        with self._db.write() as tx:
            tx.execute(
                "UPDATE saved_view SET revoked = ? WHERE name = ? AND revoked IS NULL",
                (to_us(now), name),
            )
            row = tx.row(f"{_VIEWS} WHERE v.name = ?", (name,))
        if row is None:
            raise NotFound(f"no view named {name!r}")
        return _view(row)


def scope_of(pairs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``PLATFORM:ID`` texts (the CLI's ``--account``) as account pairs; ``ScopeError``."""
    accounts = []
    for text in pairs:
        platform, sep, ident = text.partition(":")
        if not sep or not platform or not ident:
            raise ScopeError(f"an account is PLATFORM:ID, not {text[:40]!r}")
        accounts.append((platform, ident))
    return tuple(accounts)
