"""Filter operators, Datasette's: what ``?Column__op=value`` and ``?_search=`` mean.

A filter is parsed from its query name before any upstream call (``parse_filter``: an unknown
operator is a ``BadOption`` naming the operators), then compiled against its column into a
predicate over one cell (``cell_test``): numbers compare as exact numbers, text exactly unless
the operator says ``i`` (any case). The slicing evaluates the tests over its rows; nothing here
knows how a table holds them, so the same tests serve a row-wise or a column-wise table.

    Column=v, __exact=v    the cell is v (a number as a number: 886 = 886.0; empty v: empty)
    __not=v                the cell is not v (empty cells included)
    __gt __gte __lt __lte  numbers as numbers; text alphabetically, ignoring case; never empty
    __contains __startswith    text as written (a number as the CSV prints it)
    __icontains __iexact   the same ignoring case
    __in=a,b               one of the comma-separated values (an empty one: empty cells)
    __isblank=1            empty (``0``: not empty)
    _search=words          every word is in some text cell of the row, in any case
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .numbers import Number, format_number, parse_number

Cell = Number | str | None
Test = Callable[[Cell], bool]


class BadFilter(ValueError):
    """A filter the report cannot apply; the message names the valid choices (HTTP 400)."""


# operator -> how the HTML form names it
OPERATORS: dict[str, str] = {
    "exact": "=",
    "not": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "icontains": "contains, any case",
    "startswith": "starts with",
    "iexact": "=, any case",
    "in": "is one of (a,b)",
    "isblank": "is blank (1) or not (0)",
}
_ORDER = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_BLANK_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
# Text operators a case-insensitive twin would turn into a match: the hint of an empty result.
_CASE_TWINS = {"exact": "iexact", "contains": "icontains", "startswith": "istartswith"}


@dataclass(frozen=True)
class Filter:
    """One filter of a query: a column (as given), an operator of ``OPERATORS``, a value."""

    label: str
    op: str
    value: str

    @property
    def name(self) -> str:
        """The filter's query name: ``Spend__gt``, or the bare label for ``exact``."""
        return self.label if self.op == "exact" else f"{self.label}__{self.op}"

    def words(self, column: str | None = None) -> str:
        """The filter in words (for ``column``, its label as the report spells it): "Spend >
        “100”", "Country = “BR”", "Country is one of “BR”, “US”", "Country is blank"."""
        column = column or self.label
        if self.op == "isblank":
            blank = _BLANK_WORDS.get(self.value.strip().lower(), True)
            return f"{column} is {'' if blank else 'not '}blank"
        if self.op == "in":
            return f"{column} is one of {', '.join(f'“{v}”' for v in self.value.split(','))}"
        return f"{column} {OPERATORS[self.op].split(' (')[0]} “{self.value}”"


def operator_names() -> str:
    """The operators as a query spells them: "__exact, __not, __gt, ..."."""
    return ", ".join(f"__{name}" for name in OPERATORS)


def parse_filter(name: str, value: str) -> Filter:
    """The filter a query name and value ask for: ``Spend__gt`` -> (Spend, gt). A name without
    ``__`` is a column (exact); with one, what follows the last ``__`` must be an operator."""
    label, sep, op = name.rpartition("__")
    if not sep or not label:
        return Filter(name, "exact", value)
    if op not in OPERATORS:
        raise BadFilter(f"{name}: no operator __{op}; operators: {operator_names()}")
    if op == "isblank" and value.strip().lower() not in _BLANK_WORDS:
        raise BadFilter(f"{name} must be 1 (blank) or 0 (not blank), not {value!r}")
    return Filter(label, op, value)


def cell_test(f: Filter, numeric: bool, column: str) -> Test:
    """The test one cell of ``column`` (numeric or text) must pass to be kept by ``f``."""
    op, value = f.op, f.value
    if op == "isblank":
        blank = _BLANK_WORDS[value.strip().lower()]
        return lambda cell: (cell is None or cell == "") is blank
    if op in ("contains", "startswith", "icontains", "iexact"):
        return _text_test(op, value, numeric)
    if op == "in":
        wanted = frozenset(filter_operand(part, numeric, f, column) for part in value.split(","))
        return lambda cell: cell in wanted
    operand = filter_operand(value, numeric, f, column)
    if op == "exact":
        return lambda cell: cell == operand
    if op == "not":
        return lambda cell: cell != operand
    compare = _ORDER[op]
    if operand is None:
        raise BadFilter(f"{f.name} needs a value to compare with")
    if numeric:
        return lambda cell: cell is not None and compare(cell, operand)
    key = str(operand).casefold()
    return lambda cell: cell is not None and compare(str(cell).casefold(), key)


def filter_operand(value: str, numeric: bool, f: Filter, column: str) -> Cell:
    """A filter's value as the cells of its column hold it: a number, text, or None (empty)."""
    if not value:
        return None
    if not numeric:
        return value
    number = parse_number(value)
    if number is None:
        raise BadFilter(f"{column} is a numeric column: {value!r} is not a number ({f.name})")
    return number


def _text_test(op: str, value: str, numeric: bool) -> Test:
    """Text operators, on the cell as written (a number as the CSV prints it)."""
    fold = op.startswith("i")
    wanted = value.casefold() if fold else value

    def text(cell: Cell) -> str | None:
        if cell is None:
            return None
        written = format_number(cell) if numeric and not isinstance(cell, str) else str(cell)
        return written.casefold() if fold else written

    if op in ("contains", "icontains"):
        return lambda cell: (t := text(cell)) is not None and wanted in t
    if op == "startswith":
        return lambda cell: (t := text(cell)) is not None and t.startswith(wanted)
    return lambda cell: text(cell) == wanted  # iexact


def search_test(terms: str) -> Callable[[Sequence[Cell]], bool]:
    """``_search``: whether every word of ``terms`` is in some cell of a row's text cells, in
    any case."""
    words = [word.casefold() for word in terms.split()]

    def test(cells: Sequence[Cell]) -> bool:
        text = "\n".join(str(cell).casefold() for cell in cells if cell is not None)
        return all(word in text for word in words)

    return test


def case_hints(f: Filter, values: Iterable[Cell], *, limit: int = 5) -> list[str]:
    """The text values a filter that matched nothing would match in another case: what a
    person meant by ``Country=br``. Empty for operators where case cannot be the reason."""
    twin = _CASE_TWINS.get(f.op)
    if twin is None or not f.value:
        return []
    wanted, given = f.value.casefold(), f.value
    test: Callable[[str, str], bool] = {  # matches in another case, not in the one given
        "iexact": lambda folded, text: folded == wanted and text != given,
        "icontains": lambda folded, text: wanted in folded and given not in text,
        "istartswith": lambda folded, text: (
            folded.startswith(wanted) and not text.startswith(given)
        ),
    }[twin]
    found: list[str] = []
    for value in values:
        if isinstance(value, str) and value not in found and test(value.casefold(), value):
            found.append(value)
            if len(found) == limit:
                break
    return found


__all__ = [
    "OPERATORS",
    "BadFilter",
    "Filter",
    "case_hints",
    "cell_test",
    "filter_operand",
    "operator_names",
    "parse_filter",
    "search_test",
]
