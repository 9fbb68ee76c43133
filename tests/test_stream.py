"""The column-wise renderers write the bytes of the row-wise ones, for any table, any rows in
any order, every dialect and shape."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.render.csv import render_csv, render_tsv
from stract_reports.render.json import render_json, render_ndjson, render_rows_array
from stract_reports.render.stream import (
    CSV,
    EXCEL,
    EXCEL_BR,
    TSV,
    array_chunks,
    csv_chunks,
    json_chunks,
    ndjson_chunks,
)
from stract_reports.reports.frame import Frame
from stract_reports.reports.table import Table

PROPERTY = settings(max_examples=150, deadline=None)
WHEN = datetime(2025, 2, 1, 12, tzinfo=UTC)

numbers = st.one_of(
    st.none(),
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.builds(lambda d, e: Decimal(d).scaleb(e), st.integers(-999, 999), st.integers(-12, 3)),
)
texts = st.one_of(
    st.none(),
    st.sampled_from(["BR", "a,b", 'say "hi"', "line\nbreak", "=1+1", " -2", "+x", "%s", "ação"]),
    st.text(max_size=5),
)
labels = st.one_of(st.sampled_from(["Spend", "a,b", "%d", 'q"', "Ad Name"]), st.text(max_size=4))


@st.composite
def frames(draw: st.DrawFn) -> tuple[Frame, Table]:
    width = draw(st.integers(0, 4))
    columns = draw(st.lists(labels, min_size=width, max_size=width))
    numeric = draw(st.lists(st.booleans(), min_size=width, max_size=width))
    height = draw(st.integers(0, 12))
    rows = [
        [draw(numbers if n else texts) or (None if not n else draw(numbers)) for n in numeric]
        for _ in range(height)
    ]
    rows = [[None if c == "" else c for c in row] for row in rows]
    warnings = draw(st.lists(st.sampled_from(["w1", "wärning"]), max_size=2))
    frame = Frame.of_rows(columns, numeric, rows, warnings)
    picked = draw(
        st.one_of(st.just(None), st.lists(st.integers(0, max(0, height - 1)), max_size=8))
    )
    if picked is not None and height:
        frame = frame.select(picked)
        rows = [rows[i] for i in picked]
    return frame, Table("geral", "All: ads", columns, numeric, rows, warnings)


def joined(chunks: Any) -> str:
    return "".join(chunks)


@PROPERTY
@given(frames())
def test_csv_and_tsv_are_the_row_renderers_bytes(case: tuple[Frame, Table]) -> None:
    frame, table = case
    assert joined(csv_chunks(frame, CSV)) == render_csv(table)
    assert joined(csv_chunks(frame, EXCEL)) == render_csv(table, excel="1")
    assert joined(csv_chunks(frame, EXCEL_BR)) == render_csv(table, excel="br")
    assert joined(csv_chunks(frame, TSV)) == render_tsv(table)


@PROPERTY
@given(frames(), st.one_of(st.none(), st.just("/geral.json?_next=2")))
def test_json_shapes_are_the_row_renderers_bytes(case: tuple[Frame, Table], following: Any) -> None:
    frame, table = case
    head = {"report": table.name, "title": table.title}
    assert joined(json_chunks(frame, head, WHEN, next_url=following)) == render_json(
        table, WHEN, next_url=following
    )
    assert joined(ndjson_chunks(frame)) == render_ndjson(table)
    assert joined(array_chunks(frame)) == render_rows_array(table)


def test_large_tables_come_in_chunks() -> None:
    rows = [[f"ad {i % 7}", Decimal(i) / 8, i] for i in range(4500)]
    frame = Frame.of_rows(["Ad", "Spend", "Clicks"], [False, True, True], rows)
    chunks = list(csv_chunks(frame))
    assert len(chunks) == 3
    table = Table("geral", "t", ["Ad", "Spend", "Clicks"], [False, True, True], rows)
    assert "".join(chunks) == render_csv(table)
