"""Scoped access keys and saved views, as stored (the web layer applies them).

A key is 32 random bytes, URL-safe base64 (43 characters), shown once when it is made; the
store keeps its SHA-256, which is enough for a random secret of that size (no salt or slow
hash is needed: nobody can guess their way to a preimage). A view id is made the same way and
stored the same way. Neither a key nor a view id is ever in a column, a message or a log line.
A browser that opened a page with a key holds a cookie derived from it (``cookie_value``); the
store keeps that cookie's SHA-256 too, so the cookie can be checked without the key.

A key's ``Scope`` (``scope.py``) narrows what it sees: platforms (values), accounts
([platform, id] pairs) and columns (labels); an empty list narrows nothing. A view belongs to
the key it was made with: once that key is revoked or expired, ``Views.get`` no longer finds
the view.

Use counts are written in batches (``Keys.record_uses``; the ``Recorder`` calls it at most once
a minute per key), not once per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..scope import Scope, ScopeError, check_text, scope_of
from .db import Database, Tx
from .errors import NameTaken, NotFound
from .times import from_us, to_us

__all__ = [
    "KeyRecord",
    "Keys",
    "Scope",
    "ScopeError",
    "ViewRecord",
    "Views",
    "check_name",
    "cookie_value",
    "new_secret",
    "scope_of",
    "secret_hash",
]

MAX_NAME = 64
# A credential presented longer than this is no key of ours: no need to hash it.
_MAX_PRESENTED = 256


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
    """What the store keeps of a key or view id (and of a key's browser cookie)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


_COOKIE_PURPOSE = b"stract-reports browser access v1"


def cookie_value(key: str) -> str:
    """The browser cookie that stands for ``key``: HMAC-SHA256(key, purpose), never the key;
    owner keys and scoped keys alike."""
    return hmac.new(key.encode("utf-8", "surrogatepass"), _COOKIE_PURPOSE, "sha256").hexdigest()


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
                "INSERT INTO access_key (name, hash, cookie_hash, scope, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    name,
                    secret_hash(secret),
                    secret_hash(cookie_value(secret)),
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
                f"SELECT {_KEY_COLUMNS}, k.cookie_hash FROM access_key k WHERE k.hash = ?",
                (secret_hash(presented),),
            )
        if row is None:
            return None
        record = _key(row)
        if row[-1] is None:  # made before the store kept cookie digests: now it can
            with self._db.write() as tx:
                tx.execute(
                    "UPDATE access_key SET cookie_hash = ? WHERE id = ? AND cookie_hash IS NULL",
                    (secret_hash(cookie_value(presented)), record.id),
                )
        return record if record.active(now) else None

    def verify_cookie(self, presented: str, now: datetime) -> KeyRecord | None:
        """The key whose browser cookie (``cookie_value``) ``presented`` is, if active at
        ``now``; else None."""
        if not presented or len(presented) > _MAX_PRESENTED:
            return None
        with self._db.read() as tx:
            row = tx.row(
                f"SELECT {_KEY_COLUMNS} FROM access_key k WHERE k.cookie_hash = ?",
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
            check_text(text, f"a view's {what}")
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
