"""Summaries, filters and sorting over columns give what their definitions give over the rows
of cells (references below): exact Decimal sums, ratios of the summed components, equality
as numbers, a stable sort with empty cells last."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.reports.metrics import RATIOS, label_key
from stract_reports.reports.numbers import ARITHMETIC, format_number, ratio
from stract_reports.reports.slicing import _ordered, _select
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.summary import totals
from stract_reports.reports.table import Cell, Table

PROPERTY = settings(max_examples=60, deadline=None)


def printed(cell: Cell) -> Any:
    return cell if cell is None or isinstance(cell, str) else format_number(cell)


LABELS = ["Spend", "Clicks", "Impressions", "Cost per Click", "CTR", "Unique CTR", "Ad", "Country"]

numbers = st.one_of(
    st.none(),
    st.integers(-1000, 10**6),
    st.builds(lambda d, e: Decimal(d).scaleb(e), st.integers(-(10**8), 10**8), st.integers(-4, 1)),
)
texts = st.one_of(st.none(), st.sampled_from(["BR", "br", "US", "a", "B", "ação"]))


@st.composite
def tables(draw: st.DrawFn) -> tuple[Table, Table]:
    """A table of cells, twice (the reference reads its rows)."""
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=6, unique=True))
    numeric = [draw(st.booleans()) if label not in ("Ad", "Country") else False for label in labels]
    height = draw(st.integers(0, 15))
    rows = [[draw(numbers if n else texts) for n in numeric] for _ in range(height)]
    table = Table.of_rows(ReportSpec(None), "", labels, numeric, rows)
    return table, table


def reference_totals(table: Table, groups: Any, ratios: str) -> list[list[Cell]]:
    """Sums of Decimals, ratios of the summed components, text empty (the definition)."""
    column_of = {label_key(label): i for i, label in enumerate(table.columns)}
    rows = table.rows

    def total(c: int, members: Any) -> Any:
        present = [rows[i][c] for i in members if rows[i][c] is not None]
        with localcontext(ARITHMETIC):
            return sum(present) if present else None  # type: ignore[arg-type]

    out = []
    for prefix, members in groups:
        row = list(prefix)
        for c in range(len(prefix), len(table.columns)):
            definition = RATIOS.get(label_key(table.columns[c])) if ratios == "recompute" else None
            if not table.numeric[c]:
                row.append(None)
            elif definition is None:
                row.append(total(c, members))
            else:
                top = column_of.get(definition.numerator or "")
                bottom = column_of.get(definition.denominator or "")
                ok = (
                    top is not None
                    and bottom is not None
                    and table.numeric[top]
                    and table.numeric[bottom]
                )
                row.append(ratio(total(top, members), total(bottom, members)) if ok else None)  # type: ignore[arg-type]
        out.append(row)
    return out


@PROPERTY
@given(tables(), st.data(), st.sampled_from(["recompute", "sum"]))
def test_totals_are_the_row_summaries(case: Any, data: st.DataObject, ratios: Any) -> None:
    frame, table = case
    indices = st.lists(st.integers(0, max(0, len(table.rows) - 1)), max_size=10, unique=True)
    groups = [
        ([data.draw(texts)], sorted(data.draw(indices)) if table.rows else [])
        for _ in range(data.draw(st.integers(0, 3)))
    ]
    expected = reference_totals(table, groups, ratios)
    got = totals(frame, groups, ratios)
    assert got == expected
    assert [[printed(c) for c in row] for row in got] == [
        [printed(c) for c in row] for row in expected
    ]
    whole = [([], range(len(table.rows)))]
    assert totals(frame, whole, ratios) == reference_totals(table, whole, ratios)


@PROPERTY
@given(tables(), st.data())
def test_matching_rows_are_the_row_filters(case: Any, data: st.DataObject) -> None:
    frame, table = case
    filters = []
    for _ in range(data.draw(st.integers(1, 2))):
        index = data.draw(st.integers(0, len(table.columns) - 1))
        value = data.draw(numbers if table.numeric[index] else texts)
        filters.append((index, value))
    expected = [i for i, row in enumerate(table.rows) if all(row[c] == v for c, v in filters)]
    # As a query gives them: the label, and the value as text (a number as it prints).
    query = [
        (table.columns[c], "" if v is None else format_number(v) if table.numeric[c] else v)
        for c, v in filters
    ]
    assert list(_select(frame, query) or []) == expected


@PROPERTY
@given(tables(), st.data(), st.booleans())
def test_ordered_rows_are_the_row_sort(case: Any, data: st.DataObject, descending: bool) -> None:
    frame, table = case
    index = data.draw(st.integers(0, len(table.columns) - 1))
    limit = data.draw(st.integers(0, len(table.rows) + 1))
    filled = [row for row in table.rows if row[index] is not None]
    empty = [row for row in table.rows if row[index] is None]
    if table.numeric[index]:
        ordered = sorted(filled, key=lambda row: row[index], reverse=descending)  # type: ignore[arg-type, return-value]
    else:
        ordered = sorted(
            filled,
            key=lambda row: (str(row[index]).casefold(), str(row[index])),
            reverse=descending,
        )
    expected = ordered[:limit] if limit < len(filled) else ordered + empty
    got = _ordered(frame, index, descending, limit=limit)
    # Rows are compared by identity of position: the same cells in the same order.
    assert frame.cells(got)[: len(expected)] == expected[: len(got)]
    assert len(got) == len(expected)
