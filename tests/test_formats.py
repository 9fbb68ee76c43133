"""CSV options and the JSON rendering of the same tables."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from datasets import one_account
from stract_reports.formats import FORMATS
from stract_reports.render.csv import neutralise, render_csv, warnings_header
from stract_reports.render.json import dumps, render_json, table_document
from stract_reports.renderers import RENDERERS
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Cell, Table
from stract_reports.simulator import Simulator


def test_every_format_has_one_renderer_and_every_renderer_a_format() -> None:
    assert list(RENDERERS) == list(FORMATS)


def test_download_switch_sets_an_attachment_with_a_dated_filename(client: FlaskClient) -> None:
    response = client.get("/geral/resumo?download=1")
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        r'attachment; filename="stract-geral-resumo-\d{8}T\d{4}Z\.csv"', disposition
    )
    assert response.data == client.get("/geral/resumo").data


def test_json_download_is_named_json(client: FlaskClient) -> None:
    disposition = client.get("/meta_ads.json?download=1").headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="stract-meta_ads-\d{8}T\d{4}Z\.json"', disposition)


def test_reports_are_revalidated_on_every_use_and_kept_by_no_shared_cache(
    client: FlaskClient,
) -> None:
    assert client.get("/geral").headers["Cache-Control"] == "private, no-cache"


def test_excel_br_preset_uses_semicolons_decimal_commas_and_a_bom(client: FlaskClient) -> None:
    body = client.get("/geral/resumo?excel=br").data.decode("utf-8")
    assert body.startswith("\ufeffPlatform;Account Name;Clicks;Impressions;Spend;")
    assert "Facebook Ads;;250977;206806;190803,63;0,760243;1,213587;;;;;\r\n" in body


@pytest.mark.parametrize("report", ["geral", "meta_ads/resumo", "ga4"])
def test_excel_br_round_trips_to_the_same_numbers(client: FlaskClient, report: str) -> None:
    plain = _parse(client.get(f"/{report}").data.decode("utf-8"), ",")
    brazilian = _parse(client.get(f"/{report}?excel=br").data.decode("utf-8-sig"), ";")
    assert len(plain) == len(brazilian) > 1
    for row, br_row in zip(plain, brazilian, strict=True):
        for cell, br_cell in zip(row, br_row, strict=True):
            if re.fullmatch(r"-?\d+(\.\d+)?", cell):
                assert Decimal(br_cell.replace(",", ".")) == Decimal(cell)
            else:
                assert br_cell == cell


def test_unknown_excel_preset_is_400(client: FlaskClient) -> None:
    assert client.get("/geral?excel=us").status_code == 400


def _parse(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.fixture
def hostile_client(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> FlaskClient:
    names = ["=SUM(A1:A9)", "+1 555", "-x", "@cmd", "\tindent", "\rreturn", "-5", "plain"]
    ads = [{"name": n, "delta": -i} for i, n in enumerate(names, start=1)]
    dataset = one_account(
        "=cmd|' /C calc'!A0", ads, labels=[("Ad Name", "name"), ("Delta", "delta")]
    )
    return make_app(make_simulator(dataset)).test_client()


@pytest.mark.parametrize("excel", ["", "br"])
def test_formula_cells_are_neutralised_in_csv_but_numbers_are_not(
    hostile_client: FlaskClient, excel: str
) -> None:
    body = hostile_client.get(f"/hostile?excel={excel}").data.decode("utf-8-sig")
    sep = ";" if excel else ","
    rows = _parse(body, sep)[1:]
    account = "'=cmd|' /C calc'!A0"
    assert [r[1] for r in rows] == [account] * 8
    assert [r[2] for r in rows] == [
        "'=SUM(A1:A9)",
        "'+1 555",
        "'-x",
        "'@cmd",
        "'\tindent",
        "'\rreturn",
        "-5",
        "plain",
    ]
    assert [r[3] for r in rows] == [str(-n) for n in range(1, 9)]


def test_json_keeps_raw_values_column_order_and_real_numbers(hostile_client: FlaskClient) -> None:
    document = hostile_client.get("/hostile.json").json
    assert document["columns"] == ["Platform", "Account Name", "Ad Name", "Delta"]  # type: ignore[index]
    first = document["rows"][0]  # type: ignore[index]
    assert list(first) == document["columns"]  # type: ignore[index]
    assert first == {
        "Platform": "Hostile",
        "Account Name": "=cmd|' /C calc'!A0",
        "Ad Name": "=SUM(A1:A9)",
        "Delta": -1,
    }


def test_json_document_shape(client: FlaskClient) -> None:
    response = client.get("/geral/resumo.json")
    assert response.headers["Content-Type"] == "application/json"
    text = response.data.decode("utf-8")
    document = response.json
    assert list(document) == [  # type: ignore[arg-type]
        "report",
        "title",
        "generated_at",
        "row_count",
        "warnings",
        "columns",
        "rows",
    ]
    assert document["warnings"] == []  # type: ignore[index]
    assert document["report"] == "geral/resumo"  # type: ignore[index]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["generated_at"])  # type: ignore[index]
    assert document["row_count"] == 3  # type: ignore[index]
    # Exact numbers as JSON numbers, empties as null, in column order.
    assert (
        '{"Platform":"Facebook Ads","Account Name":null,"Clicks":250977,"Impressions":206806,'
        '"Spend":190803.63,"Cost Per Click":0.760243,"Clickthrough Rate":1.213587,"Ad Name":null,'
        '"Status":null,"Objective":null,"Country":null,"Unique CTR":null}'
    ) in text


@pytest.mark.parametrize("report", ["geral", "geral/resumo", "ga4/resumo"])
def test_json_numbers_are_the_csv_texts_exactly(client: FlaskClient, report: str) -> None:
    # Numbers read as their own text: the JSON writes each with the CSV's digits (5.50 stays
    # 5.50, never 5.5 through a float).
    document = json.loads(client.get(f"/{report}.json").data, parse_float=str, parse_int=str)
    csv_rows = list(csv.DictReader(io.StringIO(client.get(f"/{report}").data.decode(), newline="")))
    assert document["row_count"] == str(len(csv_rows)) != "0"
    for json_row, csv_row in zip(document["rows"], csv_rows, strict=True):
        assert {k: "" if v is None else v for k, v in json_row.items()} == csv_row


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "\u00a0=1+1",  # no-break space
        "\u200b=1+1",  # zero-width space
        "\ufeff@SUM(A1)",  # byte order mark
        "\n=1+1",
        "  \r\n -2+3",
        "\u3000+cmd",  # ideographic space
        "\u2028=1",  # line separator
        "\x1c=1",  # a control character
        "\uff1d1+1",  # full-width = + - @
        "\uff0b1",
        "\uff0d1",
        "\uff20cmd",
        "\ufe661",  # small equals sign
        "\tindent",
        "\rreturn",
        "-x",
        "+1 555",
    ],
)
def test_formula_triggers_are_neutralised_behind_any_invisible_prefix(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    "text",
    ["-5", "+3.25", " -7 ", "\u00a0-5", "-1e3", "plain", "a=b", "", "1-2", "\u00a0plain", "\u200b"],
)
def test_numbers_and_harmless_text_are_never_touched(text: str) -> None:
    assert neutralise(text) == text


def _table(rows: list[list[Cell]], numeric: list[bool]) -> Table:
    columns = [f"c{i}" for i in range(len(numeric))]
    return Table.of_rows(ReportSpec("t"), "T", columns, numeric, rows)


def test_csv_written_in_chunks_prints_numbers_positionally_across_chunks() -> None:
    rows: list[list[Cell]] = [
        [f"name {i}" if i % 3 else "\u200b=HYPERLINK()", Decimal(i) / 8, i or None]
        for i in range(4500)
    ]
    rows[4000][1] = Decimal("1E-7")  # str() has an exponent: printed positionally anyway
    rows[4001][1] = Decimal("1E+2")
    table = _table(rows, [False, True, True])
    # 4,500 rows are three chunks of the writer: the last chunk's exponents are converted too.
    lines = render_csv(table).split("\r\n")
    assert lines[:3] == ["c0,c1,c2", "'\u200b=HYPERLINK(),0,", "name 1,0.125,1"]
    assert lines[4001:4003] == ["name 4000,0.0000001,4000", "name 4001,100,4001"]
    brazilian = render_csv(table, excel="br").split("\r\n")
    assert brazilian[0] == "\ufeffc0;c1;c2"
    assert brazilian[2] == "name 1;0,125;1"
    assert brazilian[4001] == "name 4000;0,0000001;4000"


def test_csv_of_a_table_without_rows_is_its_header() -> None:
    table = _table([], [False, True])
    assert render_csv(table) == "c0,c1\r\n"


def test_json_is_strict_and_exact_and_the_document_of_the_table() -> None:
    rows: list[list[Cell]] = [
        ['a"b\\\n\u2028', Decimal("5.50"), 10**20],
        [None, Decimal("1E-7"), None],
        ["x", Decimal("19753086421975308642197.41"), -3],
    ]
    table = Table.of_rows(
        ReportSpec("t"), "T", ["Name", "Spend", "Clicks"], [False, True, True], rows, ["w"]
    )
    moment = datetime(2025, 2, 1, 12, tzinfo=UTC)
    text = render_json(table, moment)
    assert text == dumps(table_document(table, moment))
    assert text.endswith(
        '"rows":[{"Name":"a\\"b\\\\\\n\u2028","Spend":5.50,"Clicks":100000000000000000000},'
        '{"Name":null,"Spend":0.0000001,"Clicks":null},'
        '{"Name":"x","Spend":19753086421975308642197.41,"Clicks":-3}]}'
    )
    document = json.loads(text, parse_float=Decimal)
    assert document["warnings"] == ["w"]
    assert document["rows"][2]["Spend"] == Decimal("19753086421975308642197.41")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("inf")])
def test_json_refuses_what_is_no_json_number(value: object) -> None:
    with pytest.raises(ValueError):
        dumps({"Spend": value})
    with pytest.raises(ValueError):  # no table even holds one
        Table.of_rows(ReportSpec("t"), "T", ["Spend"], [True], [[value]])  # type: ignore[list-item]


def test_dumps_writes_any_document_strictly() -> None:
    document = {"a": [1, True, None, 1.5, Decimal("5.50"), (2, "x")], "b": {"c": "\u00e7\n"}}
    assert dumps(document) == '{"a":[1,true,null,1.5,5.50,[2,"x"]],"b":{"c":"\u00e7\\n"}}'
    with pytest.raises(TypeError):
        dumps({1: "key is no text"})
    with pytest.raises(TypeError):
        dumps({"a": object()})


def test_warnings_travel_in_an_ascii_header_for_csv() -> None:
    table = Table.of_rows(
        ReportSpec("t"), "T", ["c"], [False], [], ["Spend: 'a\r\nX-Evil: 1' in 'Ação' is no number"]
    )
    value = warnings_header(table)
    assert value == "[\"Spend: 'a\\r\\nX-Evil: 1' in 'A\\u00e7\\u00e3o' is no number\"]"
    assert value.isascii() and "\r" not in value and "\n" not in value
    assert json.loads(value) == table.warnings
    assert warnings_header(Table.of_rows(ReportSpec("t"), "T", ["c"], [False], [])) is None
    many = Table.of_rows(
        ReportSpec("t"), "T", ["c"], [False], [], [f"warning {i} " + "x" * 100 for i in range(100)]
    )
    value = warnings_header(many)
    assert value is not None and len(value) <= 4100
    assert json.loads(value)[-1].endswith("more warnings (see the JSON)")
