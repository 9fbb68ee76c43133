"""A key's scope applied to what a report read, before anything is laid out: the records of the
platforms, accounts and fields outside it are dropped, so that no table, summary, total,
chart, filter, warning or error built afterwards can show them.

One pure function, the same for a live read (which already read only the platforms and
accounts in scope: ``upstream.fetch``) and for a read from the store (which holds them all).
The fields outside the scope's columns go with their values, as if the upstream served no
such field: a ratio a platform lacks is then computed only from components in scope, and a
summary recomputes a ratio only where its components are in scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from ..records import AccountData, Field, PlatformData, Row
from ..scope import Scope
from .ads import ACCOUNT, PLATFORM
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
        kept = _kept_fields(platform_data.fields, scope.columns)
        accounts = [
            _account(account_data, kept, len(platform_data.fields))
            for account_data in platform_data.accounts
            if scope.sees_account(value, account_data.account.id)
        ]
        fields = [platform_data.fields[i] for i in kept]
        narrowed.append(PlatformData(platform_data.platform, fields, accounts))
    return narrowed


def _kept_fields(fields: Sequence[Field], columns: Sequence[str]) -> list[int]:
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
    rows: list[Row]
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
