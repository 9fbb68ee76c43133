"""The history options of a report's query, read and checked before anything is read:

    as_of=T               the report as it was at the latest snapshot at or before T
    since=T1[&until=T2]   the change from T1 to T2 (default: the latest snapshot; ``now``: a
                          fresh read)
    compare=T             the report (live, or ``as_of``) with each number's change since T
    _grain=hour|day|week  with ``since``, on summaries: one row per group and period

T is ISO 8601 — a date (``2026-12-01``: 00:00 UTC that day) or a date and time
(``2026-12-01T10:00Z``, ``2026-12-01T10:00:00.5+02:00``; no offset means UTC) — or a duration
ago (``90m``, ``24h``, ``7d``: ``setting_values.parse_duration``). Every time is taken to
UTC. A value that is none of these, a time in the future, ``until`` not after ``since``, or
options that do not go together are ``InvalidRequest`` (400) saying why. No Flask here: the
CLI's export reads the same options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from .errors import InvalidRequest
from .reports.options import HISTORY_OPTIONS
from .reports.periods import GRAINS, Grain
from .setting_values import parse_duration

OPTIONS = HISTORY_OPTIONS
AS_OF, SINCE, UNTIL, COMPARE, GRAIN = OPTIONS
NOW = "now"
# Longer than any time or duration this takes: a longer value is refused before it is read.
_MAX_CHARS = 40
_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
# "+02:00" in a query string arrives as " 02:00" unless the client escaped the plus sign.
_UNESCAPED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$", re.I)
_DURATION = re.compile(r"[+-]?\d+\s*[A-Za-z]+")
_FORMS = (
    "ISO 8601 (2026-12-01, 2026-12-01T10:00Z, 2026-12-01T10:00:00+02:00) or a duration ago "
    "(90m, 24h, 7d)"
)


@dataclass(frozen=True)
class HistoryQuery:
    """A request's history options, checked; all None: a live report."""

    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None  # None: the latest snapshot (or a fresh read: until_now)
    until_now: bool = False
    compare: datetime | None = None
    grain: Grain | None = None

    @property
    def asked(self) -> bool:
        """Whether the request asks anything of the store."""
        return any(v is not None for v in (self.as_of, self.since, self.compare))


def parse_history(
    pairs: Iterable[tuple[str, str]], *, now: datetime, summary: bool
) -> HistoryQuery:
    """The history options among ``pairs`` (a query's, in order), checked against each other
    and against the report (``summary``: it is one), times taken at ``now``."""
    given: dict[str, str] = {}
    for name, value in pairs:
        if name in OPTIONS:
            if name in given:
                raise InvalidRequest(f"{name} is given twice")
            given[name] = value
    if not given:
        return HistoryQuery()
    _check_together(given, summary)
    times = {
        name: parse_moment(given[name], now, name)
        for name in (AS_OF, SINCE, COMPARE)
        if name in given
    }
    until_now = given.get(UNTIL, "").strip().lower() == NOW
    until = None
    if UNTIL in given and not until_now:
        until = parse_moment(given[UNTIL], now, UNTIL)
    since = times.get(SINCE)
    if since is not None and until is not None and until <= since:
        raise InvalidRequest(
            f"until ({shown_time(until)}) must be after since ({shown_time(since)})"
        )
    grain = given.get(GRAIN)
    return HistoryQuery(
        as_of=times.get(AS_OF),
        since=since,
        until=until,
        until_now=until_now,
        compare=times.get(COMPARE),
        grain=cast(Grain, grain) if grain is not None else None,
    )


def _check_together(given: dict[str, str], summary: bool) -> None:
    """Options that do not go together, or an unknown grain: a 400 saying which."""
    if AS_OF in given and SINCE in given:
        raise InvalidRequest(
            "as_of asks for the report at one time, since for its change between two: give one"
        )
    if COMPARE in given and SINCE in given:
        raise InvalidRequest(
            "compare adds the change since a time to a report; since already is a change: "
            "give one of them"
        )
    if UNTIL in given and SINCE not in given:
        raise InvalidRequest("until ends the period that since starts: give since too")
    if GRAIN in given:
        grain = given[GRAIN]
        if grain not in GRAINS:
            raise InvalidRequest(
                f"_grain must be {', '.join(GRAINS[:-1])} or {GRAINS[-1]}, not {grain[:20]!r}"
            )
        if SINCE not in given:
            raise InvalidRequest("_grain cuts the period since..until into periods: give since")
        if not summary:
            raise InvalidRequest(
                "_grain makes a time series of a summary's groups: ask a summary "
                "(…/resumo?since=…&_grain=…)"
            )


def parse_moment(text: str, now: datetime, name: str = "a time") -> datetime:
    """A time as the options take it (see the module), in UTC; ``InvalidRequest`` for a
    malformed one or one after ``now``."""
    raw = text.strip()
    if not raw:
        raise InvalidRequest(f"{name} is empty: give a time, {_FORMS}")
    if len(raw) > _MAX_CHARS:
        raise InvalidRequest(f"{name} is {len(raw)} characters long: no time is; give {_FORMS}")
    if _DURATION.fullmatch(raw):
        if raw[0] in "+-":
            raise InvalidRequest(
                f"{name} {raw!r}: a duration counts back from now, give it without a sign (7d)"
            )
        try:
            moment = now - parse_duration(raw)
        except ValueError as exc:
            raise InvalidRequest(f"{name}: {exc}") from None
    else:
        moment = _iso(raw, name)
    if moment > now:
        raise InvalidRequest(
            f"{name} {shown_time(moment)} is in the future (now is {shown_time(now)})"
        )
    return moment


def _iso(raw: str, name: str) -> datetime:
    """An ISO 8601 date or date and time, in UTC."""
    text = _UNESCAPED_PLUS.sub(r"\1+\2", raw)
    match = _ISO.fullmatch(text)
    if match is None:
        raise InvalidRequest(f"{name} {raw[:_MAX_CHARS]!r} is no time: give {_FORMS}")
    try:
        moment = datetime.fromisoformat(
            match["date"] + (f"T{match['time']}" if match["time"] else "")
        )
        zone = match["zone"]
        if zone and zone.upper() != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:] or 0)
            if hours > 23 or minutes > 59:
                raise ValueError(f"the offset {zone} is out of range")
            offset = timedelta(hours=hours, minutes=minutes) * sign
            return (moment - offset).replace(tzinfo=UTC)
        return moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(f"{name} {raw[:_MAX_CHARS]!r} is no time: {exc}") from None


def shown_time(moment: datetime) -> str:
    """A time for people: UTC to the second, the offset stated (``2026-12-01T10:00:05Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exact_time(moment: datetime) -> str:
    """A time that reads back as itself: UTC to the microsecond when it has them
    (``2026-12-01T10:00:05.123456Z``): the ``as_of`` of a link, the ``Stract-Snapshot``
    header."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
