"""Quality flags: ad rows where the upstream's own numbers cannot all be true.

Nothing is changed or hidden: the report shows what the upstream serves, and says where it
contradicts itself. Three checks, each on the columns ``metrics`` names:

- a served Cost per Click that differs from Spend ÷ Clicks by more than a cent;
- a served Clickthrough Rate above 100 % (a rate is a fraction: 1 is 100 %);
- more Clicks than Impressions.

``inspect`` finds the flagged rows of an ad table once (a build shares it among requests);
``quality_warnings`` counts them per column over a slice's ads, naming the first accounts;
``flags_column`` is the ``Flags`` column of ``?_flags=1``.

A check reads the number columns it names as their aligned integers (``NumberColumn.aligned``:
every value × 10**scale, 0 when empty) and compares them exactly, a ``map`` in C per operation:
no Python call, no ``Decimal``, per cell. (Converting the cells to Decimals first cost 3.6 µs a
row; this costs a tenth of that.)
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress, count, repeat
from operator import gt, mul, sub

from .columnar import EMPTY, POW10, NumberColumn
from .metrics import CLICKS, IMPRESSIONS, RATIOS, SPEND, label_key
from .numbers import Number

Cell = Number | str | None
Numbers = Callable[[int], NumberColumn]  # a numeric column of the table, by its index
CENT_PLACES = 2  # a cent: CPC is money per click, and may differ by 10**-2
TOLERANCE = Decimal(1).scaleb(-CENT_PLACES)
ACCOUNTS_NAMED = 3  # accounts a warning names before "and N more"


@dataclass(frozen=True)
class Check:
    """One check: the column it flags, the words of its flag and warning, the columns it
    reads and the test their cells of a row fail (truthy: flagged)."""

    column: str  # the label as the report spells it
    flag: str  # in the Flags column: "Cost Per Click ≠ Spend ÷ Clicks"
    problem: str  # in the warning: "serve a value that differs from Spend ÷ Clicks by ..."
    reads: tuple[int, ...]  # the columns ``test`` takes, in order
    test: Callable[..., Iterable[int]]  # the rows of the columns it flags, ascending


@dataclass(frozen=True)
class Quality:
    """The checks an ad table's columns allow, and per check the rows it flags (ascending)."""

    checks: tuple[Check, ...] = ()
    flagged: tuple[Sequence[int], ...] = ()  # arrays: 4 bytes a flagged row, not an int object


def checks_for(columns: Sequence[str], numeric: Sequence[bool]) -> list[Check]:
    """The checks that apply to an ad table with these columns (numeric ones only)."""
    index = {label_key(label): i for i, label in enumerate(columns) if numeric[i]}
    spend, clicks, impressions = (index.get(key) for key in (SPEND, CLICKS, IMPRESSIONS))
    found: list[Check] = []
    for key, column in index.items():
        ratio = RATIOS.get(key)
        label = columns[column]
        parts = None if ratio is None else (ratio.numerator, ratio.denominator)
        if parts == (SPEND, CLICKS) and spend is not None and clicks is not None:
            quotient = f"{columns[spend]} ÷ {columns[clicks]}"
            found.append(
                Check(
                    label,
                    f"{label} ≠ {quotient}",
                    f"serve a value that differs from {quotient} by more than {TOLERANCE}",
                    (column, spend, clicks),
                    _differs,
                )
            )
        elif parts == (CLICKS, IMPRESSIONS):
            found.append(
                Check(label, f"{label} > 100 %", "serve a rate above 100 %", (column,), _above_one)
            )
    if clicks is not None and impressions is not None:
        found.append(
            Check(
                columns[clicks],
                f"{columns[clicks]} > {columns[impressions]}",
                f"have more {columns[clicks].lower()} than {columns[impressions].lower()}",
                (clicks, impressions),
                _more,
            )
        )
    return found


def inspect(columns: Sequence[str], numeric: Sequence[bool], data: Numbers) -> Quality:
    """Every check of the table's columns over its rows (``data(c)``: numeric column ``c``):
    which rows each flags."""
    checks = checks_for(columns, numeric)
    flagged = tuple(array("I", check.test(*map(data, check.reads))) for check in checks)
    return Quality(tuple(checks), flagged)


def quality_warnings(
    quality: Quality,
    selected: Sequence[int] | None,
    accounts: Callable[[Sequence[int]], Iterable[Cell]],
) -> list[str]:
    """One warning per check that flags some of the ``selected`` rows (None: all), counted,
    naming the first accounts (``accounts(rows)``: the Account Name of those rows)."""
    warnings = []
    for check, rows in zip(quality.checks, quality.flagged, strict=True):
        mine = rows if selected is None else _within(rows, selected)
        if not mine:
            continue
        found = dict.fromkeys(accounts(mine))
        names = [str(name) for name in found if name is not None]
        shown = ", ".join(names[:ACCOUNTS_NAMED])
        more = len(names) - ACCOUNTS_NAMED
        where = f"{shown} and {more} more" if more > 0 else shown
        count = f"{len(mine):,} ad{'s' * (len(mine) != 1)}"
        warnings.append(
            f"{check.column}: {count} {check.problem} (accounts {where}); shown as the upstream "
            "serves them"
        )
    return warnings


def flags_column(quality: Quality, size: int) -> list[str | None]:
    """The ``Flags`` cell of each of a table's ``size`` rows: its checks' flags joined by
    "; ", or empty."""
    marks: list[list[str] | None] = [None] * size
    for check, flagged in zip(quality.checks, quality.flagged, strict=True):
        for row in flagged:
            mark = marks[row]
            if mark is None:
                marks[row] = [check.flag]
            else:
                mark.append(check.flag)
    return [None if mark is None else "; ".join(mark) for mark in marks]


def _within(rows: Sequence[int], selected: Sequence[int]) -> list[int]:
    """The flagged ``rows`` that are among ``selected`` (both ascending)."""
    if len(rows) < len(selected):
        chosen = set(selected)
        return [row for row in rows if row in chosen]
    flagged = set(rows)
    return [row for row in selected if row in flagged]


def _scaled(values: Iterable[int], power: int) -> Iterable[int]:
    """``values`` × 10**power (as they are when the power is 0)."""
    return values if power == 0 else map(mul, values, repeat(POW10[power]))


def _differs(cpc: NumberColumn, spend: NumberColumn, clicks: NumberColumn) -> Iterable[int]:
    """A served ratio more than a cent from spend ÷ clicks: |cpc·clicks − spend| > 0.01·|clicks|,
    on integers at one scale ``top`` (exact whatever the digits), where all three are served
    and clicks are not 0."""
    (sc, c), (ss, s), (sk, k) = cpc.aligned(), spend.aligned(), clicks.aligned()
    top = max(sc + sk, ss, sk + CENT_PLACES)
    product = _scaled(map(mul, c, k), top - sc - sk)
    gap = map(abs, map(sub, product, _scaled(s, top - ss)))
    allowed = _scaled(map(abs, k), top - sk - CENT_PLACES)
    # An empty cell reads 0: of the rows over the line (few, as a rule), those missing a value
    # or without clicks are no contradiction.
    over = compress(count(), map(gt, gap, allowed))
    cpc_scales, spend_scales = cpc.scales, spend.scales
    return (r for r in over if k[r] and cpc_scales[r] != EMPTY and spend_scales[r] != EMPTY)


def _above_one(rate: NumberColumn) -> Iterable[int]:
    """A rate above 1 (100 %); an empty cell holds 0."""
    scale, values = rate.aligned()
    return compress(count(), map(gt, values, repeat(POW10[scale])))


def _more(high: NumberColumn, low: NumberColumn) -> Iterable[int]:
    """More of ``high`` than of ``low``, where both are served (an empty cell reads 0)."""
    (sh, h), (sl, lo) = high.aligned(), low.aligned()
    top = max(sh, sl)
    over = compress(count(), map(gt, _scaled(h, top - sh), _scaled(lo, top - sl)))
    return (r for r in over if high.scales[r] != EMPTY and low.scales[r] != EMPTY)


__all__ = ["Check", "Quality", "checks_for", "flags_column", "inspect", "quality_warnings"]
