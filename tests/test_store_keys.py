"""Scoped keys, saved views and the audit trail as stored, on SQLite and PostgreSQL: a key or
view id is shown once and only its hash is kept; revoking or expiring a key ends its views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stract_reports.store import (
    AuditEntry,
    NameTaken,
    NotFound,
    Scope,
    ScopeError,
    Store,
    open_store,
)
from stract_reports.store.keys import scope_of, secret_hash

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACME = Scope(
    platforms=("meta_ads",), accounts=(("meta_ads", "1"), ("meta_ads", "3")), columns=("Spend",)
)


def dump(store: Store) -> str:
    """Everything the key, view and audit tables hold, as text."""
    with store.db.read() as tx:
        rows = [
            *tx.rows("SELECT * FROM access_key"),
            *tx.rows("SELECT * FROM saved_view"),
            *tx.rows("SELECT * FROM audit"),
        ]
    return "\n".join(map(repr, rows))


def test_a_key_is_shown_once_and_only_its_hash_is_kept(store: Store) -> None:
    record, key = store.keys.add("acme", ACME, now=NOW, expires=NOW + timedelta(days=30))
    assert len(key) == 43 and key.replace("-", "").replace("_", "").isalnum()
    assert (record.name, record.scope, record.created) == ("acme", ACME, NOW)
    assert record.expires == NOW + timedelta(days=30) and record.revoked is None
    assert (record.last_used, record.uses) == (None, 0)
    stored = dump(store)
    assert key not in stored and repr(secret_hash(key)) in stored
    assert store.keys.verify(key, NOW) == record
    assert store.keys.get("acme") == record
    other, other_key = store.keys.add("owner", Scope(), now=NOW)
    assert other_key != key and other.scope.full and not record.scope.full
    assert [k.name for k in store.keys.list_all()] == ["acme", "owner"]


@pytest.mark.parametrize("presented", ["", "x", "a" * 43, "a" * 10_000])
def test_anything_else_is_no_key(store: Store, presented: str) -> None:
    store.keys.add("acme", ACME, now=NOW)
    assert store.keys.verify(presented, NOW) is None


def test_expired_and_revoked_keys_are_refused(store: Store) -> None:
    _, short = store.keys.add("short", ACME, now=NOW, expires=NOW + timedelta(hours=1))
    _, long = store.keys.add("long", ACME, now=NOW)
    assert store.keys.verify(short, NOW + timedelta(minutes=59)) is not None
    assert store.keys.verify(short, NOW + timedelta(hours=1)) is None
    revoked = store.keys.revoke("long", NOW + timedelta(minutes=5))
    assert revoked.revoked == NOW + timedelta(minutes=5)
    assert store.keys.verify(long, NOW + timedelta(minutes=6)) is None
    assert store.keys.revoke("long", NOW + timedelta(hours=9)).revoked == revoked.revoked
    with pytest.raises(NotFound, match="no key named 'nobody'"):
        store.keys.revoke("nobody", NOW)


def test_key_names_are_unique_forever(store: Store) -> None:
    store.keys.add("acme", ACME, now=NOW)
    store.keys.revoke("acme", NOW)
    with pytest.raises(NameTaken, match="a key named 'acme' exists") as raised:
        store.keys.add("acme", ACME, now=NOW)
    assert raised.value.status == 409


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "1 to 64"), ("x" * 65, "1 to 64"), (" acme", "without spaces"), ("a\nb", "printable")],
)
def test_bad_names_are_refused(store: Store, name: str, message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        store.keys.add(name, ACME, now=NOW)


def test_an_expiry_in_the_past_is_refused(store: Store) -> None:
    with pytest.raises(ScopeError, match="in the future"):
        store.keys.add("acme", ACME, now=NOW, expires=NOW)


def test_uses_are_added_in_batches(store: Store) -> None:
    acme, _ = store.keys.add("acme", ACME, now=NOW)
    owner, _ = store.keys.add("owner", Scope(), now=NOW)
    store.keys.record_uses({acme.id: (NOW + timedelta(minutes=2), 5), owner.id: (NOW, 1)})
    store.keys.record_uses({acme.id: (NOW + timedelta(minutes=1), 2)})  # an older batch
    again = store.keys.get("acme")
    assert again is not None and (again.uses, again.last_used) == (7, NOW + timedelta(minutes=2))
    other = store.keys.get("owner")
    assert other is not None and (other.uses, other.last_used) == (1, NOW)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (dict(platforms=("",)), "non-empty"),
        (dict(platforms=("ga4", "ga4")), "repeat"),
        (dict(accounts=(("ga4", "1"),), platforms=("meta_ads",)), "outside the scope's platforms"),
        (dict(accounts=(("ga4",),)), "pair"),
        (dict(columns=("Spend", " spend ")), "repeat"),
        (dict(columns=("x" * 201,)), "at most 200"),
        (dict(platforms=tuple(str(n) for n in range(1001))), "at most 1000"),
    ],
)
def test_bad_scopes_are_refused(scope: dict[str, object], message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        Scope(**scope)  # type: ignore[arg-type]


def test_a_scope_is_stored_as_json_and_checked_when_read() -> None:
    text = ACME.to_json()
    assert text == (
        '{"platforms":["meta_ads"],"accounts":[["meta_ads","1"],["meta_ads","3"]],'
        '"columns":["Spend"]}'
    )
    assert Scope.from_json(text) == ACME
    assert Scope.from_json("{}") == Scope()
    for bad in ("[]", "{", '{"platforms": "x"}', '{"accounts": ["x"]}', '{"other": []}'):
        with pytest.raises(ScopeError):
            Scope.from_json(bad)
    assert scope_of(["meta_ads:1", "ga4:a:b"]) == (("meta_ads", "1"), ("ga4", "a:b"))
    with pytest.raises(ScopeError, match="PLATFORM:ID"):
        scope_of(["meta_ads"])


def test_a_view_lives_with_its_key(store: Store) -> None:
    store.keys.add("acme", ACME, now=NOW, expires=NOW + timedelta(days=2))
    view, view_id = store.views.add(
        "acme-br", "acme", "geral/resumo", "csv", "_by=Country&Country=BR", now=NOW
    )
    assert len(view_id) == 43 and view_id not in dump(store)
    assert (view.report, view.format, view.query, view.key.name) == (
        "geral/resumo",
        "csv",
        "_by=Country&Country=BR",
        "acme",
    )
    assert store.views.get(view_id, NOW) == view
    assert store.views.get(view_id, NOW + timedelta(days=2)) is None  # the key expired
    assert store.views.get(view_id[:-1], NOW) is None
    store.keys.revoke("acme", NOW + timedelta(hours=1))
    assert store.views.get(view_id, NOW + timedelta(hours=1)) is None  # the key was revoked
    with pytest.raises(NotFound, match="no active key named 'acme'"):
        store.views.add("again", "acme", "geral", "csv", "", now=NOW + timedelta(hours=2))


def test_views_are_listed_and_revoked(store: Store) -> None:
    store.keys.add("acme", ACME, now=NOW)
    _, first = store.views.add("b-view", "acme", "geral", "csv", "", now=NOW)
    store.views.add("a-view", "acme", "meta_ads", "xlsx", "_size=10", now=NOW)
    assert [v.name for v in store.views.list_all()] == ["a-view", "b-view"]
    revoked = store.views.revoke("b-view", NOW + timedelta(minutes=1))
    assert revoked.revoked == NOW + timedelta(minutes=1)
    assert store.views.get(first, NOW + timedelta(minutes=2)) is None
    with pytest.raises(NameTaken):
        store.views.add("b-view", "acme", "geral", "csv", "", now=NOW)
    with pytest.raises(NotFound, match="no view named 'c'"):
        store.views.revoke("c", NOW)
    with pytest.raises(ScopeError, match="printable"):
        store.views.add("c", "acme", "geral", "csv", "a\nb", now=NOW)


def test_the_audit_trail_by_key_and_time(store: Store) -> None:
    entries = [
        AuditEntry(NOW, "acme", None, "geral", "csv", 200),
        AuditEntry(NOW + timedelta(minutes=1), "acme", "acme-br", "geral/resumo", "csv", 200),
        AuditEntry(NOW + timedelta(minutes=2), None, None, "meta_ads", "json", 200),
        AuditEntry(NOW + timedelta(minutes=3), "other", None, "ga4", "html", 404),
    ]
    store.audit.append(entries)
    store.audit.append([])
    assert store.audit.query() == entries[::-1]
    assert store.audit.query(key="acme") == entries[1::-1]
    assert store.audit.query(since=NOW + timedelta(minutes=2)) == entries[:1:-1]
    assert store.audit.query(key="acme", since=NOW + timedelta(minutes=1)) == [entries[1]]
    assert store.audit.query(limit=1) == [entries[3]]


def test_a_revocation_is_seen_by_another_process_at_once(store: Store, store_url: str) -> None:
    _, key = store.keys.add("acme", ACME, now=NOW)
    other = open_store(store_url)
    assert other is not None
    try:
        assert other.keys.verify(key, NOW) is not None
        store.keys.revoke("acme", NOW)
        assert other.keys.verify(key, NOW) is None
    finally:
        other.close()


def test_the_key_is_nowhere_in_the_sqlite_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    assert store is not None
    try:
        store.keys.add("acme", ACME, now=NOW)
        _, key = store.keys.add("other", ACME, now=NOW)
        _, view_id = store.views.add("v", "other", "geral", "csv", "", now=NOW)
    finally:
        store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("keys.sqlite3*"))
    assert b"acme" in stored and key.encode() not in stored and view_id.encode() not in stored
