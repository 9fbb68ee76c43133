"""A key's scope applied to what a report read, before anything is laid out: the platforms,
accounts and fields outside it are dropped, so that no table, summary, total, chart, filter,
warning or error built afterwards can show them.

One rule (``Scope``'s, and ``kept_fields`` for the columns), at the two doors a read comes in
by: ``ScopedSink`` for a live read, whose insight pages are assembled as they arrive (the fetch
already asked for nothing outside the scope: ``upstream.fetch``), and ``narrow`` for records
holding their rows (a read from the store, which holds every platform and account). The fields
outside the scope's columns go with their values, as if the upstream served no such field: a
ratio a platform lacks is then computed only from components in scope, and a summary
recomputes a ratio only where its components are in scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from ..records import AccountData, Field, Platform, PlatformData, Row
from ..scope import Scope
from .ingest import AdAssembly
from .layout import ACCOUNT, PLATFORM
from .metrics import label_key

_LEADING = frozenset({label_key(PLATFORM), label_key(ACCOUNT)})


def narrow(data: Sequence[PlatformData], scope: Scope | None) -> list[PlatformData]:
    """``data`` with only the platforms, accounts and fields ``scope`` lets its key see
    (None, or a scope that narrows nothing: ``data`` as it is)."""
    if scope is None or scope.full:
        return list(data)
    narrowed = []
    for platform_data in data:
        value = platform_data.platform.value
        if not scope.sees_platform(value):
            continue
        kept = kept_fields(platform_data.fields, scope.columns)
        accounts = [
            _account(account_data, kept, len(platform_data.fields))
            for account_data in platform_data.accounts
            if scope.sees_account(value, account_data.account.id)
        ]
        fields = [platform_data.fields[i] for i in kept]
        narrowed.append(PlatformData(platform_data.platform, fields, accounts))
    return narrowed


def kept_fields(fields: Sequence[Field], columns: Sequence[str]) -> list[int]:
    """Positions of the fields the scope's columns name (all, when it names none). A field is
    named by its label, or by the ``Label (key)`` a table shows it as when its label is taken
    (``ads.layout``): a field labelled "Platform" never passes for the Platform column."""
    if not columns:
        return list(range(len(fields)))
    wanted = {label_key(column) for column in columns}
    return [
        position
        for position, f in enumerate(fields)
        if (label_key(f.label) in wanted and label_key(f.label) not in _LEADING)
        or label_key(f"{f.label} ({f.key})") in wanted
    ]


def _account(account_data: AccountData, kept: list[int], width: int) -> AccountData:
    """The account with its rows cut to the ``kept`` positions of ``width`` fields."""
    rows: Sequence[Row]
    if len(kept) == width:
        rows = account_data.rows
    elif len(kept) == 1:
        (only,) = kept
        rows = [(row[only],) for row in account_data.rows]
    elif kept:
        rows = list(map(itemgetter(*kept), account_data.rows))
    else:
        rows = [() for _ in account_data.rows]
    # The digest was of the whole bodies: not of these rows.
    return AccountData(account_data.account, rows, account_data.ad_keys)


class ScopedSink:
    """Where a live read's insight pages go within ``scope``: ``assembly`` is told only of the
    platforms, accounts and fields the scope sees, and given only their pages (each page's
    items are read by the kept fields' keys alone)."""

    def __init__(self, assembly: AdAssembly, scope: Scope) -> None:
        self.assembly = assembly
        self.scope = scope
        # Per platform position in scope: an account's position in the read -> in the assembly.
        self._accounts: dict[int, dict[int, int]] = {}

    def platform(
        self,
        position: int,
        platform: Platform,
        fields: Sequence[Field],
        accounts: Sequence[tuple[str, str]],
    ) -> None:
        """A platform's fields and accounts (id, name): registered with what the scope sees."""
        if not self.scope.sees_platform(platform.value):
            return
        mine = [
            (index, account)
            for index, account in enumerate(accounts)
            if self.scope.sees_account(platform.value, account[0])
        ]
        self._accounts[position] = {index: n for n, (index, _) in enumerate(mine)}
        kept = [fields[i] for i in kept_fields(fields, self.scope.columns)]
        self.assembly.platform(position, platform, kept, [account for _, account in mine])

    def add(self, platform: int, account: int, page: int, items: list[dict[str, Any]]) -> None:
        """One page of an account's insights, if the account is in scope."""
        index = self._accounts.get(platform, {}).get(account)
        if index is not None:
            self.assembly.add(platform, index, page, items)
