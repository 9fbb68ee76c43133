"""The Excel workbook, read back with openpyxl and pandas: cell types, values, number formats,
the frozen bold header, the autofilter, column widths, and text that stays text."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from stract_reports.render.xlsx import MAX_COLUMNS, MAX_ROWS, WorkbookTooLarge, render_xlsx
from stract_reports.reports.slice_options import parse_slice
from stract_reports.reports.slicing import slice_report
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Cell, Table
from support import golden
from tables import general, general_summary

FORMULAS = ["=1+1", '=HYPERLINK("http://x")', "@SUM(A1:A2)", "+1 555", "-x", "=cmd|' /C calc'!A0"]


def sheet_of(data: bytes) -> Worksheet:
    """The one sheet of a workbook."""
    workbook = load_workbook(io.BytesIO(data))
    assert len(workbook.worksheets) == 1
    return workbook.worksheets[0]


def golden_rows(report: str) -> list[list[str]]:
    """The golden CSV of ``report``, header first."""
    return list(csv.reader(io.StringIO(golden(report).decode("utf-8"), newline="")))


def test_general_workbook_holds_the_report_with_numbers_as_numbers() -> None:
    sheet = sheet_of(render_xlsx(general().table))
    expected = golden_rows("geral")
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]

    assert sheet.title == "geral"
    assert cells[0] == expected[0]
    assert len(cells) == 67
    for row, want in zip(cells[1:], expected[1:], strict=True):
        for value, text in zip(row, want, strict=True):
            if text == "":
                assert value is None
            elif text[0].isdigit():
                assert isinstance(value, int | float) and Decimal(str(value)) == Decimal(text)
            else:
                assert value == text
    assert cells[1][:5] == ["Facebook Ads", "Jorginho", 886, 2777, 6915.93]


def test_number_formats_follow_the_column_kind() -> None:
    sheet = sheet_of(render_xlsx(general().table))
    second = {sheet.cell(1, c).value: sheet.cell(2, c) for c in range(1, 13)}

    assert {label: cell.number_format for label, cell in second.items()} == {
        "Platform": "General",
        "Account Name": "General",
        "Clicks": "#,##0",
        "Impressions": "#,##0",
        "Spend": "#,##0.00",
        "Cost Per Click": "#,##0.00",
        "Clickthrough Rate": "0.00%",
        "Ad Name": "General",
        "Status": "General",
        "Objective": "General",
        "Country": "General",
        "Unique CTR": "0.00%",
    }
    assert [second[label].data_type for label in ("Platform", "Clicks", "Spend")] == ["s", "n", "n"]


def test_header_is_bold_frozen_and_filtered_and_columns_fit() -> None:
    sheet = sheet_of(render_xlsx(general().table))

    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:L67"
    widths = {
        sheet.cell(1, c).value: sheet.column_dimensions[chr(64 + c)].width for c in range(1, 13)
    }
    # The widest text decides: "Sérgio Dutra Santos" (19), "Anúncio 10" (10), labels + filter.
    assert 20 <= widths["Account Name"] < 23
    assert 11 <= widths["Ad Name"] < 13
    assert 14 <= widths["Unique CTR"] < 16


def test_summary_workbook_has_recomputed_ratios_and_empty_cells_empty() -> None:
    table, _ = slice_report(general(), parse_slice([]), summary=general_summary())
    sheet = sheet_of(render_xlsx(table))
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]

    assert rows[0][:7] == ["Facebook Ads", None, 250977, 206806, 190803.63, 0.760243, 1.213587]
    assert rows[0][7:] == [None] * 5  # text and Unique CTR: empty, as in the CSV
    assert [row[0] for row in rows] == ["Facebook Ads", "Google Analytics", "TikTok"]
    assert sheet.title == "geral-resumo"
    assert sheet.max_column == 12


def test_text_that_looks_like_a_formula_stays_text_and_no_formula_is_written() -> None:
    table = Table.of_rows(
        ReportSpec("hostile/x:y"),
        "Hostile",
        ["Ad Name", "Delta"],
        [False, True],
        [[text, -i] for i, text in enumerate(FORMULAS, start=1)],
    )
    data = render_xlsx(table)
    sheet = sheet_of(data)

    assert [(c.value, c.data_type) for c in sheet["A"][1:]] == [(t, "s") for t in FORMULAS]
    assert [c.value for c in sheet["B"][1:]] == [-1, -2, -3, -4, -5, -6]
    assert sheet.title == "hostile-x-y"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


@pytest.mark.parametrize("report", ["geral", "geral/resumo"])
def test_pandas_reads_the_workbook_with_numeric_dtypes(report: str) -> None:
    summary = general_summary() if "resumo" in report else None
    table, _ = slice_report(general(), parse_slice([]), summary=summary)
    frame = pd.read_excel(io.BytesIO(render_xlsx(table)), engine="openpyxl")

    assert list(frame.columns) == table.columns
    assert str(frame["Clicks"].dtype) == "int64"
    assert str(frame["Spend"].dtype) == "float64"
    assert pd.api.types.is_string_dtype(frame["Platform"])
    assert round(float(frame["Spend"].sum()), 2) == 292890.22
    assert int(frame["Clicks"].sum()) == 363059


def test_an_empty_table_is_a_workbook_with_its_header() -> None:
    sheet = sheet_of(
        render_xlsx(Table.of_rows(ReportSpec(None), "", ["Platform", "Spend"], [False, True], []))
    )

    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["Platform", "Spend"]]


def test_a_table_larger_than_a_sheet_is_refused_not_cut_short() -> None:
    rows: list[list[Cell]] = [[1]] * (MAX_ROWS + 1)
    wide = Table.of_rows(
        ReportSpec(None), "", [f"c{i}" for i in range(MAX_COLUMNS + 1)], [True] * (MAX_COLUMNS + 1)
    )

    with pytest.raises(WorkbookTooLarge) as caught:
        render_xlsx(Table.of_rows(ReportSpec(None), "", ["Clicks"], [True], rows))
    assert str(caught.value) == (
        "1,048,576 rows and 1 columns do not fit in an Excel sheet (1,048,575 rows, 16,384 "
        "columns at most): ask for CSV, or fewer rows with _size or filters"
    )
    with pytest.raises(WorkbookTooLarge):
        render_xlsx(wide)
