"""Plain records of what the upstream serves, and of what one report fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# An ad's values in the order of its platform's fields (None where the row lacks the key).
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Platform:
    """An ad platform: ``value`` is its key upstream, ``label`` its display name."""

    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """An insight field: ``key`` names it in requests and rows, ``label`` in reports."""

    key: str
    label: str


@dataclass(frozen=True)
class Account:
    """An ad account. ``id`` is unique within its platform only; names are not unique."""

    id: str
    name: str
    token: str = field(repr=False)


@dataclass
class AccountData:
    """One account with its ad rows, in upstream order, each aligned with the platform's fields.

    For the history store: ``ad_keys`` are the ads' upstream ``id`` values in row order (None:
    the store keys ads by position, "1".."n"), and ``digest`` is a digest of the account's
    insight bodies (None: the store digests the rows itself).
    """

    account: Account
    rows: list[Row]
    ad_keys: list[str] | None = None
    digest: bytes | None = field(default=None, repr=False)


@dataclass
class PlatformData:
    """Everything one report needs of one platform."""

    platform: Platform
    fields: list[Field]
    accounts: list[AccountData]


def insights_call(platform: str, account: str) -> str:
    """An account's insights call, in words: "insights of Facebook Ads account 'Jorginho'"."""
    return f"insights of {platform} account {account!r}"


def exact(value: Any) -> Any:
    """A float literal as the decoder's ``float_literals`` leave it (its bytes, ``b"5.50"``) as
    the exact Decimal it writes; any other value as it is."""
    return Decimal(value.decode("ascii")) if type(value) is bytes else value
