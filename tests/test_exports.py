"""Exports for spreadsheets and data tools, as pure renderers over the real dataset: CSV for
Excel in any locale, TSV, a bare JSON list of rows and NDJSON, read back with pandas."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from stract_reports.render.csv import render_csv, render_tsv
from stract_reports.render.json import dumps, render_ndjson, render_rows_array, table_document
from stract_reports.reports.slice_options import parse_slice
from stract_reports.reports.slicing import slice_report
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from support import REPORTS, golden
from tables import general, general_summary, platform


def report_table(report: str) -> Table:
    """``report`` of the real dataset, unsliced."""
    base, _, rest = report.partition("/")
    ads, summary = (general(), general_summary()) if base == "geral" else platform(base)
    table, _ = slice_report(ads, parse_slice([]), summary=summary if rest else None)
    return table


@pytest.mark.parametrize("report", REPORTS)
def test_default_csv_keeps_its_golden_bytes(report: str) -> None:
    assert render_csv(report_table(report)).encode() == golden(report)


@pytest.mark.parametrize("report", REPORTS)
def test_excel_csv_is_the_plain_csv_behind_a_bom(report: str) -> None:
    body = render_csv(report_table(report), excel="1").encode("utf-8")

    assert body == b"\xef\xbb\xbf" + golden(report)


def test_excel_br_is_unchanged_by_either_spelling() -> None:
    table = report_table("geral/resumo")

    assert "Facebook Ads;;250977;206806;190803,63;0,760243;1,213587;;;;;\r\n" in render_csv(
        table, excel="br"
    )


def test_tsv_is_the_csv_with_tabs() -> None:
    text = render_tsv(report_table("geral"))

    assert text.splitlines()[0].split("\t")[:5] == [
        "Platform",
        "Account Name",
        "Clicks",
        "Impressions",
        "Spend",
    ]
    assert text.splitlines()[1] == (
        "Facebook Ads\tJorginho\t886\t2777\t6915.93\t0.335\t0.386\tAnúncio 9\tPAUSED\t"
        "Conversion\tBR\t0.492"
    )
    frame = pd.read_csv(io.StringIO(text), sep="\t")
    assert frame.shape == (66, 12)
    assert int(frame["Clicks"].sum()) == 363059


def test_pandas_reads_the_csv_with_numeric_dtypes() -> None:
    frame = pd.read_csv(io.BytesIO(golden("geral")))
    excel = pd.read_csv(io.BytesIO(render_csv(report_table("geral"), excel="1").encode()))

    assert str(frame["Clicks"].dtype) == "int64"
    assert str(frame["Spend"].dtype) == "float64"
    assert frame["Unique CTR"].isna().sum() == 24
    assert list(excel.columns)[0] == "Platform"  # pandas strips the BOM
    assert excel.equals(frame)


def test_the_rows_array_is_a_bare_list_pandas_reads_as_records() -> None:
    table = report_table("geral")
    body = render_rows_array(table)
    frame = pd.read_json(io.StringIO(body))

    assert body.startswith('[{"Platform":"Facebook Ads","Account Name":"Jorginho","Clicks":886,')
    assert (
        json.loads(body)
        == json.loads(dumps(table_document(table, datetime(2025, 2, 1, tzinfo=UTC))))["rows"]
    )
    assert list(frame.columns) == table.columns
    assert frame.shape == (66, 12)
    assert str(frame["Clicks"].dtype) == "int64"
    assert str(frame["Spend"].dtype) == "float64"
    assert round(float(frame["Spend"].sum()), 2) == 292890.22
    assert frame["Objective"].isna().sum() == 24


def test_ndjson_is_one_row_object_per_line() -> None:
    table = report_table("tiktok_insights/resumo")
    body = render_ndjson(table)
    frame = pd.read_json(io.StringIO(body), lines=True)

    assert body.count("\n") == 2 and body.endswith("\n")
    assert [json.loads(line) for line in body.splitlines()] == json.loads(render_rows_array(table))
    assert frame["Account Name"].tolist() == ["Ana Patrícia Ramos", "Duda Lisboa"]
    assert int(frame["Clicks"].sum()) == 41717


def test_empty_table_gives_an_empty_list_and_no_lines() -> None:
    table = Table.of_rows(ReportSpec(None), "", ["Platform"], [False], [])

    assert render_rows_array(table) == "[]"
    assert render_ndjson(table) == ""
