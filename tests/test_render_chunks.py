"""The renderers of columns write what ``csv.writer`` and ``json`` write of the rows (the
references below), for any table, any rows in any order, every dialect and shape, a chunk at a
time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.render.csv import csv_chunks, neutralise, render_csv, render_tsv
from stract_reports.render.json import (
    dumps,
    json_chunks,
    render_json,
    render_ndjson,
    render_rows_array,
    table_document,
)
from stract_reports.reports.numbers import format_number
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Cell, Table

PROPERTY = settings(max_examples=80, deadline=None)
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
def tables(draw: st.DrawFn) -> Table:
    """A table of cells, showing all its rows or some of them in any order (a repeat too)."""
    width = draw(st.integers(0, 4))
    columns = draw(st.lists(labels, min_size=width, max_size=width, unique=True))  # as reports
    numeric = draw(st.lists(st.booleans(), min_size=width, max_size=width))
    height = draw(st.integers(0, 12))
    rows = [[draw(numbers if n else texts) for n in numeric] for _ in range(height)]
    rows = [[None if c == "" else c for c in row] for row in rows]
    warnings = draw(st.lists(st.sampled_from(["w1", "wärning"]), max_size=2))
    table = Table.of_rows(ReportSpec(None), "All: ads", columns, numeric, rows, warnings)
    picked = draw(
        st.one_of(st.just(None), st.lists(st.integers(0, max(0, height - 1)), max_size=8))
    )
    if picked is not None and height:
        table = table.select(picked)
    return table


def reference_csv(
    table: Table, delimiter: str = ",", comma: bool = False, bom: bool = False
) -> str:
    """``csv.writer`` over the rows: text neutralised, numbers printed exactly."""

    def cell(value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return neutralise(value)
        return format_number(value, "," if comma else ".")

    out = io.StringIO()
    out.write("\ufeff" if bom else "")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(label) for label in table.columns])
    writer.writerows([[cell(value) for value in row] for row in table.rows])
    return out.getvalue()


@PROPERTY
@given(tables())
def test_csv_and_tsv_are_what_csv_writer_writes(table: Table) -> None:
    assert render_csv(table) == reference_csv(table)
    assert render_csv(table, excel="1") == reference_csv(table, bom=True)
    assert render_csv(table, excel="br") == reference_csv(table, ";", comma=True, bom=True)
    assert render_tsv(table) == reference_csv(table, "\t")


@PROPERTY
@given(tables(), st.one_of(st.none(), st.just("/geral.json?_next=2")))
def test_json_shapes_are_what_json_writes(table: Table, following: Any) -> None:
    document = table_document(table, WHEN)
    if following is not None:
        document["next"] = following
    assert render_json(table, WHEN, next_url=following) == dumps(document)
    objects = [dumps(row) for row in document["rows"]]
    assert render_ndjson(table) == "".join(f"{row}\n" for row in objects)
    assert render_rows_array(table) == "[" + ",".join(objects) + "]"


def test_large_tables_come_in_chunks() -> None:
    rows: list[list[Cell]] = [[f"ad {i % 7}", Decimal(i) / 8, i] for i in range(4500)]
    table = Table.of_rows(
        ReportSpec(None), "t", ["Ad", "Spend", "Clicks"], [False, True, True], rows
    )
    chunks = list(csv_chunks(table))
    assert len(chunks) == 3
    assert "".join(chunks) == reference_csv(table)
    assert len(list(json_chunks(table, WHEN))) == 5  # head, 3 chunks of rows, end
