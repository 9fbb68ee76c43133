"""CSV options and the JSON rendering of the same tables."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from datasets import one_account
from stract_reports.simulator import Simulator


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
    assert list(document) == ["report", "title", "generated_at", "row_count", "columns", "rows"]  # type: ignore[arg-type]
    assert document["report"] == "geral/resumo"  # type: ignore[index]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["generated_at"])  # type: ignore[index]
    assert document["row_count"] == 3  # type: ignore[index]
    # Exact numbers as JSON numbers, empties as null, in column order.
    assert (
        '{"Platform":"Facebook Ads","Account Name":null,"Clicks":250977,"Impressions":206806,'
        '"Spend":190803.63,"Cost Per Click":0.760243,"Clickthrough Rate":1.213587,"Ad Name":null,'
        '"Status":null,"Objective":null,"Country":null,"Unique CTR":null}'
    ) in text


def test_json_rows_match_the_csv_rows(client: FlaskClient) -> None:
    document = client.get("/geral.json").json
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/geral").data.decode(), newline="")))
    assert document["row_count"] == len(csv_rows) == 66  # type: ignore[index]
    for json_row, csv_row in zip(document["rows"], csv_rows, strict=True):  # type: ignore[index]
        assert {k: "" if v is None else str(v) for k, v in json_row.items()} == csv_row
