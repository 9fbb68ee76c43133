"""Reports over time, from states of the upstream read at two or more moments: the change over
a period, a report compared with an earlier one, and a time series of changes.

The API serves lifetime numbers, so a period's change is a difference of two states:

- ``changes(now, then)``: the ad table of ``now`` with every numeric cell replaced by its
  change since ``then``, ads matched by identity (platform, account id, ad key): value now
  minus value then; an ad absent then counts from zero (as does an empty cell then); an ad
  absent now is not a row; text as it is now. A ratio column (``metrics.RATIOS``) is never
  subtracted: it is recomputed per ad from the changes of its components (the period's Cost per
  Click is Δ Spend / Δ Clicks), and left empty where it has none (Unique CTR). Summaries of the
  result add up the changes and recompute ratios from the summed changes, as every summary does.
- ``compare(now, then)``: after each numeric column ``X``, ``X Δ`` (now minus then, for the
  same row) and ``X Δ%`` ((now - then) / then, a fraction like the rates; empty where then is
  empty or 0). Rows are matched by the keys the caller gives (ad identity, group identity).
- ``period_starts`` and ``stack_periods``: the boundaries of a time series aligned to UTC
  hours, days or ISO weeks, and its table (a ``Period`` column, then each period's rows).

Pure functions over ``Ads`` and ``Table``: the states come from the store or a live read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import DecimalException, localcontext
from typing import Literal, get_args

from ..errors import UpstreamBadPayload
from ..records import unique_keys
from .ads import Ads
from .metrics import RATIOS, Ratio, label_key
from .numbers import ARITHMETIC, Number, NumberOutOfRange, parse_number, ratio
from .slicing import Summary
from .table import Cell, Table

# An ad's identity across reads: platform value, account id, ad key (``AccountData.ad_keys``).
AdId = tuple[str, str, str]
Grain = Literal["hour", "day", "week"]
GRAINS: tuple[str, ...] = get_args(Grain)
PERIOD = "Period"
# What a compared column's two new columns are called: "Spend Δ", "Spend Δ%".
DELTA, RELATIVE = " Δ", " Δ%"


@dataclass(frozen=True)
class Identities:
    """Who each row of a report's tables is, aligned with them: every ad (the ad table's
    rows), every account (``Ads.by_account``'s groups) and every platform (``by_platform``)."""

    ads: list[AdId]
    accounts: list[tuple[str, str]]
    platforms: list[str]

    @classmethod
    def of(cls, ads: Ads, values: Sequence[str]) -> Identities:
        """The identities of ``ads``' rows and groups, its platforms' ``values`` given in
        report order: each ad by its upstream id made unique in its account
        (``records.unique_keys``), or by position ("1".."n") in an account where an ad has
        none, as the store names them."""
        keys: list[AdId] = []
        accounts: list[tuple[str, str]] = []
        for span in ads.spans:
            value = values[span.platform]
            accounts.append((value, span.account_id))
            ids = ads.ad_ids.cells(range(span.start, span.stop))
            if None in ids:
                mine = [str(n) for n in range(1, len(ids) + 1)]
            else:
                mine = unique_keys(map(str, ids))
            keys.extend((value, span.account_id, key) for key in mine)
        return cls(keys, accounts, list(values))

    def of_groups(self, ads: Ads, summary: Summary) -> Sequence[Hashable]:
        """The identity of each of ``summary``'s default groups (an account or a platform)."""
        return self.accounts if summary.groups is ads.by_account else self.platforms


def changes(now: Ads, now_ids: Sequence[AdId], then: Ads, then_ids: Sequence[AdId]) -> Ads:
    """``now``'s ad table with each numeric cell the change since ``then`` (see the module);
    its groups are ``now``'s. ``UpstreamBadPayload`` if a change cannot be exact (never, for
    numbers within the bounds)."""
    table = now.table
    position = {ident: row for row, ident in enumerate(then_ids)}
    matched = [position.get(ident) for ident in now_ids]
    then_column = {label_key(label): c for c, label in enumerate(then.table.columns)}
    every = range(len(table))
    columns: list[list[Cell]] = [list(column.cells(every)) for column in table.data]
    warnings = list(table.warnings)
    ratio_columns = []
    for c, label in enumerate(table.columns):
        if label_key(label) in RATIOS and c >= 2:
            ratio_columns.append(c)
            continue
        if not table.numeric[c]:
            continue
        source = then_column.get(label_key(label))
        before: list[Cell] = (
            [None] * len(matched) if source is None else _then_cells(then, source, matched)
        )
        columns[c], stray = _differences(columns[c], before, label)
        if stray:
            warnings.append(
                f"column {label!r} held text at the start of the period in {stray} ad"
                f"{'s' * (stray > 1)}: their change is left empty"
            )
    column_of = {label_key(label): c for c, label in enumerate(table.columns)}
    numeric = list(table.numeric)
    for c in ratio_columns:
        recomputed = _recomputed(table, columns, column_of, RATIOS[label_key(table.columns[c])])
        if recomputed is not None:
            # Whatever its cells were now (empty, text): a ratio of two numbers is a number.
            columns[c], numeric[c] = recomputed, True
        else:
            columns[c] = [None] * len(table.rows)
    rows = [list(row) for row in zip(*columns, strict=True)] if len(table) else []
    digest = hashlib.sha256(b"change" + now.table.digest + then.table.digest).digest()
    changed = Table.of_rows(table.spec, table.title, table.columns, numeric, rows, warnings, digest)
    return Ads(changed, now.by_account, now.by_platform, now.spans, now.ad_ids)


def _then_cells(then: Ads, column: int, matched: Sequence[int | None]) -> list[Cell]:
    """The cells of ``then``'s ``column`` for the matched rows (None where unmatched); a text
    column's numeric strings read as numbers, its other text kept (and refused later)."""
    values = then.table.data[column].cells(range(len(then.table)))
    cells = [None if row is None else values[row] for row in matched]
    if then.table.numeric[column]:
        return cells
    return [_as_number(cell) for cell in cells]


def _as_number(cell: Cell) -> Cell:
    """A text cell as a number when it is one (in bounds), else as it is."""
    try:
        number = parse_number(cell)
    except NumberOutOfRange:
        return cell
    return cell if number is None else number


def _differences(now: list[Cell], then: list[Cell], label: str) -> tuple[list[Cell], int]:
    """``now - then`` per row, an empty then counting as 0, an empty now staying empty; and
    how many rows had text then (left empty)."""
    out: list[Cell] = []
    stray = 0
    with localcontext(ARITHMETIC):
        for value, before in zip(now, then, strict=True):
            if value is None:
                out.append(None)
            elif before is None:
                out.append(value)
            elif isinstance(before, str):
                stray += 1
                out.append(None)
            else:
                try:
                    out.append(value - before)  # type: ignore[operator]
                except DecimalException:
                    raise UpstreamBadPayload(
                        f"the change of {label!r}", "it does not fit the exact arithmetic"
                    ) from None
    return out, stray


def _recomputed(
    table: Table, columns: list[list[Cell]], column_of: dict[str, int], definition: Ratio
) -> list[Cell] | None:
    """A ratio column per ad from the changed components; None without them."""
    top = column_of.get(definition.numerator or "")
    bottom = column_of.get(definition.denominator or "")
    if top is None or bottom is None or not (table.numeric[top] and table.numeric[bottom]):
        return None
    return [ratio(a, b) for a, b in zip(columns[top], columns[bottom], strict=True)]  # type: ignore[arg-type]


def compare(
    now: Table, then: Table, now_keys: Sequence[Hashable], then_keys: Sequence[Hashable]
) -> Table:
    """``now`` with ``X Δ`` and ``X Δ%`` after each numeric column ``X`` (see the module),
    rows matched to ``then``'s by their keys, columns by label."""
    position = {key: row for row, key in enumerate(then_keys)}
    matched = [position.get(key) for key in now_keys]
    then_column = {label_key(label): c for c, label in enumerate(then.columns)}
    columns: list[str] = []
    numeric: list[bool] = []
    plan: list[tuple[int, int | None]] = []  # per numeric column: it, and then's column
    for c, label in enumerate(now.columns):
        columns.append(label)
        numeric.append(now.numeric[c])
        if now.numeric[c]:
            columns += [label + DELTA, label + RELATIVE]
            numeric += [True, True]
            source = then_column.get(label_key(label))
            plan.append((c, source if source is not None and then.numeric[source] else None))
    rows: list[list[Cell]] = []
    sources = dict(plan)
    with localcontext(ARITHMETIC):
        for row, match in zip(now.rows, matched, strict=True):
            before = None if match is None else then.rows[match]
            out: list[Cell] = []
            for c, value in enumerate(row):
                out.append(value)
                if c in sources:
                    source = sources[c]
                    old = None if before is None or source is None else before[source]
                    out += _delta(value, old)  # type: ignore[arg-type]
            rows.append(out)
    digest = hashlib.sha256(b"compare" + now.digest + then.digest).digest()
    return Table.of_rows(now.spec, now.title, columns, numeric, rows, list(now.warnings), digest)


def _delta(now: Number | None, then: Number | None) -> list[Cell]:
    """Now minus then, and that over then; empty where either is empty (and ``Δ%`` where
    then is 0)."""
    if now is None or then is None:
        return [None, None]
    difference = now - then
    return [difference, ratio(difference, then)]


def is_delta(label: str) -> bool:
    """Whether ``label`` names a compared column's change or relative change."""
    return label.endswith((DELTA, RELATIVE))


def period_starts(since: datetime, until: datetime, grain: Grain) -> list[datetime]:
    """The boundaries of the periods from ``since`` to ``until``: ``since``, every start of a
    UTC hour, day or ISO week (Monday) after it and before ``until``, then ``until``. The
    first and last periods may be partial."""
    boundaries = [since]
    start = aligned(since, grain)
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    while (start := start + step[grain]) < until:
        boundaries.append(start)
    boundaries.append(until)
    return boundaries


def aligned(moment: datetime, grain: Grain) -> datetime:
    """The start of the UTC hour, day or ISO week (Monday 00:00) ``moment`` falls in."""
    utc = moment.astimezone(UTC)
    if grain == "hour":
        return utc.replace(minute=0, second=0, microsecond=0)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if grain == "day" else day - timedelta(days=day.weekday())


def stack_periods(periods: Sequence[tuple[str, Table]], empty: Table) -> Table:
    """One table of the periods' tables (each labelled, e.g. ``2026-12-01T10:00:00Z``): a
    ``Period`` column, then each period's rows in order. ``empty`` gives the columns when
    there is no period."""
    first = periods[0][1] if periods else empty
    rows = [[label, *row] for label, table in periods for row in table.rows]
    warnings: list[str] = []
    digest = hashlib.sha256(b"periods")
    for label, table in periods:
        warnings += [w for w in table.warnings if w not in warnings]
        digest.update(label.encode() + table.digest)
    return Table.of_rows(
        first.spec,
        first.title,
        [PERIOD, *first.columns],
        [False, *first.numeric],
        rows,
        warnings,
        digest.digest(),
    )
