"""Quality flags: ad rows where the upstream's own numbers cannot all be true.

Nothing is changed or hidden: the report shows what the upstream serves, and says where it
contradicts itself. Three checks, each on the columns ``metrics`` names:

- a served Cost per Click that differs from Spend ÷ Clicks by more than a cent;
- a served Clickthrough Rate above 100 % (a rate is a fraction: 1 is 100 %);
- more Clicks than Impressions.

``inspect`` finds the flagged rows of an ad table once (a build shares it among requests);
``quality_warnings`` counts them per column over a slice's ads, naming the first accounts;
``flags_column`` is the ``Flags`` column of ``?_flags=1``. A check reads the columns it names,
a cell of each at a time (``map(test, *columns)``): a row-wise table hands the columns cut from
its rows, a column-wise one its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from itertools import compress
from typing import Any

from .metrics import CLICKS, IMPRESSIONS, RATIOS, SPEND, label_key
from .numbers import ARITHMETIC, Number

Cell = Number | str | None
Cells = Callable[[int], Sequence[Cell]]  # a column's cells, every row, by the column's index
TOLERANCE = Decimal("0.01")  # a cent: CPC is money per click
ACCOUNTS_NAMED = 3  # accounts a warning names before "and N more"


@dataclass(frozen=True)
class Check:
    """One check: the column it flags, the words of its flag and warning, the columns it
    reads and the test their cells of a row fail (truthy: flagged)."""

    column: str  # the label as the report spells it
    flag: str  # in the Flags column: "Cost Per Click ≠ Spend ÷ Clicks"
    problem: str  # in the warning: "serve a value that differs from Spend ÷ Clicks by ..."
    reads: tuple[int, ...]  # the columns whose cells ``test`` takes, in order
    test: Callable[..., Any]


@dataclass(frozen=True)
class Quality:
    """The checks an ad table's columns allow, and per check the rows it flags (ascending)."""

    checks: tuple[Check, ...] = ()
    flagged: tuple[tuple[int, ...], ...] = ()


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


def inspect(columns: Sequence[str], numeric: Sequence[bool], size: int, cells: Cells) -> Quality:
    """Every check of the table's columns over its ``size`` rows (``cells(c)``: column
    ``c``'s cells): which rows each flags."""
    checks = checks_for(columns, numeric)
    read = {c: cells(c) for c in {c for check in checks for c in check.reads}}
    # Exact arithmetic for the whole pass: an operator then costs no context lookup.
    with localcontext(ARITHMETIC):
        flagged = tuple(
            tuple(compress(range(size), map(c.test, *(read[i] for i in c.reads)))) for c in checks
        )
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


def _differs(served: Cell, numerator: Cell, denominator: Cell) -> Any:
    """A served ratio more than TOLERANCE from numerator ÷ denominator, exactly:
    |r·d − n| > tol·|d| (in ``inspect``'s exact context: no rounding, whatever the digits)."""
    if served is None or numerator is None or not denominator:
        return False
    return abs(served * denominator - numerator) > TOLERANCE * abs(denominator)  # type: ignore[operator, arg-type]


_ONE = Decimal(1)  # Decimal against Decimal: several times faster than against an int


def _above_one(rate: Cell) -> Any:
    return rate is not None and rate > _ONE  # type: ignore[operator]


def _more(high: Cell, low: Cell) -> Any:
    return high is not None and low is not None and high > low  # type: ignore[operator]


__all__ = ["Check", "Quality", "checks_for", "flags_column", "inspect", "quality_warnings"]
