"""Summaries, filters and sorting column-wise give what the row-wise build and slicing give:
the same sums and ratios (exact), the same rows, in the same order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.reports.build import summarize
from stract_reports.reports.frame import Frame, matching, ordered, totals
from stract_reports.reports.slicing import _sorted
from stract_reports.reports.table import Table

PROPERTY = settings(max_examples=200, deadline=None)
LABELS = ["Spend", "Clicks", "Impressions", "Cost per Click", "CTR", "Unique CTR", "Ad", "Country"]

numbers = st.one_of(
    st.none(),
    st.integers(-1000, 10**6),
    st.builds(lambda d, e: Decimal(d).scaleb(e), st.integers(-(10**8), 10**8), st.integers(-4, 1)),
)
texts = st.one_of(st.none(), st.sampled_from(["BR", "br", "US", "a", "B", "ação"]))


@st.composite
def tables(draw: st.DrawFn) -> tuple[Frame, Table]:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=6, unique=True))
    numeric = [draw(st.booleans()) if label not in ("Ad", "Country") else False for label in labels]
    height = draw(st.integers(0, 15))
    rows = [[draw(numbers if n else texts) for n in numeric] for _ in range(height)]
    return Frame.of_rows(labels, numeric, rows), Table("geral", "", labels, numeric, rows)


@PROPERTY
@given(tables(), st.data(), st.sampled_from(["recompute", "sum"]))
def test_totals_are_the_row_summaries(case: Any, data: st.DataObject, ratios: Any) -> None:
    frame, table = case
    indices = st.lists(st.integers(0, max(0, len(table.rows) - 1)), max_size=10, unique=True)
    groups = [
        ([data.draw(texts)], sorted(data.draw(indices)) if table.rows else [])
        for _ in range(data.draw(st.integers(0, 3)))
    ]
    expected = summarize(table, groups, ratios, name="", title="").rows
    assert totals(frame, groups, ratios) == expected
    whole = [([], range(len(table.rows)))]
    assert totals(frame, whole, ratios) == summarize(table, whole, ratios, name="", title="").rows


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
    assert list(matching(frame, filters)) == expected


@PROPERTY
@given(tables(), st.data(), st.booleans())
def test_ordered_rows_are_the_row_sort(case: Any, data: st.DataObject, descending: bool) -> None:
    frame, table = case
    index = data.draw(st.integers(0, len(table.columns) - 1))
    limit = data.draw(st.integers(0, len(table.rows) + 1))
    expected = _sorted(table, index, descending, limit=limit)
    got = ordered(frame, index, descending, limit)
    # Rows are compared by identity of position: the same cells in the same order.
    assert frame.cells(got)[: len(expected)] == expected[: len(got)]
    assert len(got) == len(expected)
