"""Times in the store: whole microseconds since the epoch, UTC, in BIGINT columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(at: datetime) -> int:
    """An aware datetime as microseconds since the epoch; ``ValueError`` for a naive one
    (a time without a zone is ambiguous, and the store is in UTC)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a time without a zone is ambiguous: give one in UTC or with an offset")
    return (at - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def now_utc() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
