"""What a scoped key may see: platforms, accounts and columns (``Scope``), validated, stored as
JSON, and the rule that reads it.

The rule, one part at a time, each empty part narrowing nothing:

- **platforms** (upstream values): only these are read and shown. Without them, a scope that
  names accounts sees the platforms of those accounts only.
- **accounts** (``(platform, account id)`` pairs, ids as the upstream lists them, never names):
  on a platform that some pair names, only the named accounts are read and shown; a platform in
  ``platforms`` that no pair names shows every account of it.
- **columns** (labels, matched as labels merge: case-insensitively, spaces trimmed): only these
  fields are kept, as if the upstream served no other; ``Platform`` and ``Account Name`` always
  stay. The core applies it (``reports.scoping``).

Plain data below every layer: the store keeps a scope with its key, the upstream's fetch reads
only what it allows, the core narrows what was read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Bounds on what a scope may hold: generous for a person, small for a column.
MAX_ENTRY = 200
MAX_ENTRIES = 1000


class ScopeError(ValueError):
    """A scope (or a name) that cannot be stored; the message says what is wrong."""


def check_text(value: Any, what: str) -> str:
    """``value`` if it is a printable, non-empty text of at most ``MAX_ENTRY`` characters."""
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
    """What a key may see; every empty part means "all" (see the module for the rule)."""

    platforms: tuple[str, ...] = ()
    accounts: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for value in self.platforms:
            check_text(value, "a platform")
        for pair in self.accounts:
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise ScopeError("an account is a (platform, account id) pair")
            check_text(pair[0], "an account's platform")
            check_text(pair[1], "an account id")
            if self.platforms and pair[0] not in self.platforms:
                raise ScopeError(
                    f"account {pair[0]}:{pair[1]} is on a platform outside the scope's platforms"
                )
        for label in self.columns:
            check_text(label, "a column")
        _distinct(self.platforms, "platforms")
        _distinct(self.accounts, "accounts")
        _distinct(tuple(" ".join(c.split()).casefold() for c in self.columns), "columns")

    @property
    def full(self) -> bool:
        """Whether the scope narrows nothing."""
        return not (self.platforms or self.accounts or self.columns)

    @property
    def reads_everything(self) -> bool:
        """Whether every platform and account is in scope (the columns may still narrow)."""
        return not (self.platforms or self.accounts)

    def sees_platform(self, platform: str) -> bool:
        """Whether the platform (its upstream value) is in scope."""
        if self.platforms:
            return platform in self.platforms
        if self.accounts:
            return any(named == platform for named, _ in self.accounts)
        return True

    def accounts_on(self, platform: str) -> frozenset[str] | None:
        """The ids of the accounts of ``platform`` in scope; None: every one (when the
        platform itself is in scope)."""
        ids = frozenset(ident for named, ident in self.accounts if named == platform)
        return ids or None

    def sees_account(self, platform: str, account_id: str) -> bool:
        """Whether the account ``account_id`` of ``platform`` is in scope."""
        if not self.sees_platform(platform):
            return False
        ids = self.accounts_on(platform)
        return ids is None or account_id in ids

    def describe(self) -> str:
        """The scope in words, for the CLI: "meta_ads: accounts 1, 3; columns: Spend"."""
        if self.full:
            return "everything"
        named = self.platforms or tuple(dict.fromkeys(p for p, _ in self.accounts))
        parts = []
        for platform in named:
            ids = self.accounts_on(platform)
            shown = (
                "every account"
                if ids is None
                else "accounts " + ", ".join(ident for p, ident in self.accounts if p == platform)
            )
            parts.append(f"{platform}: {shown}")
        if not named:
            parts.append("every platform")
        if self.columns:
            parts.append("columns: " + ", ".join(self.columns))
        return "; ".join(parts)

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


def scope_of(pairs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``PLATFORM:ID`` texts (the CLI's ``--account``) as account pairs; ``ScopeError``."""
    accounts = []
    for text in pairs:
        platform, sep, ident = text.partition(":")
        if not sep or not platform or not ident:
            raise ScopeError(f"an account is PLATFORM:ID, not {text[:40]!r}")
        accounts.append((platform, ident))
    return tuple(accounts)
