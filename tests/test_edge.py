"""The rules that are easy to get wrong, on small datasets served by the simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conftest import FAST
from datasets import edge_dataset, one_account
from hostile import Call, HostileUpstream, Reply, raw_reply
from stract_reports import close_app, create_app
from stract_reports.config import Settings
from stract_reports.simulator import Simulator

EXPECTED = {
    # Two accounts named "Dup" stay two accounts; "Empty" has no ads; numeric strings are numbers.
    "/alpha": (
        "Platform,Account Name,Clicks,Spend,Cost per Click,Ad Name\r\n"
        'Alpha Ads,Dup,10,5.50,0.55,"a, b"\r\n'
        'Alpha Ads,Dup,0,1,0,"say ""hi"""\r\n'
        'Alpha Ads,Dup,5,2.25,0.45,"line\nbreak"\r\n'
    ),
    "/alpha/resumo": (
        "Platform,Account Name,Clicks,Spend,Cost per Click,Ad Name\r\n"
        "Alpha Ads,Dup,10,6.50,0.65,\r\n"
        "Alpha Ads,Dup,5,2.25,0.45,\r\n"
        "Alpha Ads,Empty,,,,\r\n"
    ),
    # Booleans are text, not numbers; insights arrive one row per page.
    "/beta": (
        "Platform,Account Name,Ad Name,Clicks,Spend,Status\r\n"
        "Beta,Dup,x,0,3,true\r\n"
        "Beta,Dup,y,4,1.10,false\r\n"
    ),
    # A label is shown trimmed; a ratio without its components in the data stays empty.
    "/gamma/resumo": "Platform,Account Name,clicks,Cost Per Click\r\nGamma,Solo,2,\r\n",
    # "clicks", "Clicks" and " Cost Per  Click " / "Cost per Click" each merge into one column;
    # Beta has no Cost per Click: Spend / Clicks, empty where Clicks is 0; Gamma keeps its own.
    "/geral": (
        "Platform,Account Name,Clicks,Spend,Cost per Click,Ad Name,Status\r\n"
        'Alpha Ads,Dup,10,5.50,0.55,"a, b",\r\n'
        'Alpha Ads,Dup,0,1,0,"say ""hi""",\r\n'
        'Alpha Ads,Dup,5,2.25,0.45,"line\nbreak",\r\n'
        "Beta,Dup,0,3,,x,true\r\n"
        "Beta,Dup,4,1.10,0.275,y,false\r\n"
        "Gamma,Solo,2,,1.5,,\r\n"
    ),
    # 8.75 / 15 = 0.58333.. ; 4.10 / 4 = 1.025 ; Gamma has no Spend to recompute from.
    "/geral/resumo": (
        "Platform,Account Name,Clicks,Spend,Cost per Click,Ad Name,Status\r\n"
        "Alpha Ads,,15,8.75,0.583333,,\r\n"
        "Beta,,4,4.10,1.025,,\r\n"
        "Gamma,,2,,,,\r\n"
    ),
    "/geral/resumo?ratios=sum": (
        "Platform,Account Name,Clicks,Spend,Cost per Click,Ad Name,Status\r\n"
        "Alpha Ads,,15,8.75,1.00,,\r\n"
        "Beta,,4,4.10,0.275,,\r\n"
        "Gamma,,2,,1.5,,\r\n"
    ),
}


@pytest.fixture
def edge_sim(make_simulator: Callable[..., Simulator]) -> Simulator:
    return make_simulator(edge_dataset())


@pytest.fixture
def edge_client(make_app: Callable[..., Flask], edge_sim: Simulator) -> FlaskClient:
    return make_app(edge_sim).test_client()


@pytest.mark.parametrize("path", list(EXPECTED))
def test_edge_report_bytes(edge_client: FlaskClient, path: str) -> None:
    response = edge_client.get(path)
    assert response.status_code == 200
    assert response.data.decode("utf-8") == EXPECTED[path]


def test_every_page_of_every_resource_is_read(
    edge_client: FlaskClient, edge_sim: Simulator
) -> None:
    edge_client.get("/geral")
    # accounts: alpha 3 pages + beta + gamma; fields: alpha 2 pages + 2;
    # insights: alpha 3 accounts + beta 2 pages + gamma 1
    assert edge_sim.stats()["requests"] == {
        "platforms": 1,
        "accounts": 5,
        "fields": 4,
        "insights": 6,
    }


def test_paginated_and_unpaginated_insights_give_the_same_report(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    paged = make_app(make_simulator(edge_dataset(insights_page_size=1))).test_client()
    whole = make_app(make_simulator(edge_dataset(insights_page_size=None))).test_client()
    assert paged.get("/geral").data == whole.get("/geral").data


def test_a_column_with_any_text_value_is_text(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    dataset = edge_dataset()
    beta = dataset.platforms[1]
    beta.accounts[0].insights[1]["clicks"] = "n/a"  # type: ignore[index]
    client = make_app(make_simulator(dataset)).test_client()
    assert client.get("/beta/resumo").data.decode() == (
        "Platform,Account Name,Ad Name,Clicks,Spend,Status\r\nBeta,Dup,,,4.10,\r\n"
    )


def test_a_mostly_numeric_column_made_text_by_one_value_says_so_in_json(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    dataset = edge_dataset()
    dataset.platforms[0].accounts[1].insights[0]["spend"] = "1,234.56"  # type: ignore[index]
    client = make_app(make_simulator(dataset)).test_client()
    expected = [
        "column 'Spend' is text, not numbers: '1,234.56' in the insights of Alpha Ads account "
        "'Dup' is not a number, so summaries leave it empty"
    ]
    for path in ("/alpha.json", "/alpha/resumo.json", "/geral.json", "/geral/resumo.json"):
        assert client.get(path).json["warnings"] == expected, path  # type: ignore[index]
    # A slice of the report reads the same values: it carries the same warning.
    for query in ("_size=1", "_next=1", "_sort=Spend", "_col=Spend", "Account Name=Dup"):
        path = f"/alpha.json?{query}"
        assert client.get(path).json["warnings"] == expected, path  # type: ignore[index]
    assert client.get("/beta.json").json["warnings"] == []  # type: ignore[index]
    # The CSV keeps the value as the upstream wrote it; the summary leaves Spend empty; the
    # warning travels in a header (ASCII JSON), and the HTML page shows it.
    csv = client.get("/alpha/resumo")
    assert csv.data.decode().split("\r\n")[1] == "Alpha Ads,Dup,10,,,"
    assert json.loads(csv.headers["X-Report-Warnings"]) == expected
    assert "X-Report-Warnings" not in client.get("/beta").headers
    page = client.get("/alpha.html").data.decode()
    assert '<div class="warnings" role="alert" id="warnings">' in page
    assert "&#39;1,234.56&#39; in the insights of Alpha Ads account &#39;Dup&#39;" in page


def test_fields_labelled_like_the_leading_columns_are_kept(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    dataset = one_account(
        "Ana",
        [{"platform": "web", "owner": "Bob", "spend": 2}],
        labels=[("Platform", "platform"), ("Account name", "owner"), ("Spend", "spend")],
    )
    client = make_app(make_simulator(dataset)).test_client()
    assert client.get("/hostile").data.decode() == (
        "Platform,Account Name,Platform (platform),Account name (owner),Spend\r\n"
        "Hostile,Ana,web,Bob,2\r\n"
    )


def test_summaries_past_1e22_stay_exact_in_csv_and_json(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    ads = [{"spend": "987654321098765432109.87", "clicks": 3}] * 20 + [
        {"spend": "0.01", "clicks": 0}
    ]
    dataset = one_account("Ana", ads, labels=[("Spend", "spend"), ("Clicks", "clicks")])
    client = make_app(make_simulator(dataset)).test_client()
    assert client.get("/hostile/resumo").data.decode() == (
        "Platform,Account Name,Spend,Clicks\r\nHostile,Ana,19753086421975308642197.41,60\r\n"
    )
    text = client.get("/geral/resumo.json").data.decode()
    assert '"Spend":19753086421975308642197.41,"Clicks":60}' in text


# Raw JSON number texts, and numeric strings (a 5000-digit one too), beyond the bounds.
OUT_OF_RANGE = [
    b"1e100000000",
    b"1e400",
    b"-1e-400",
    b"0." + b"0" * 60 + b"1",  # (literals past 100 characters the JSON decoder refuses)
    b"1" * 60 + b".5",
    b"1.000000000000000000000000000000",  # 31 digits
    b'"1e100000000"',
    b'"' + b"9" * 5000 + b'"',
]


@pytest.mark.parametrize("literal", OUT_OF_RANGE, ids=lambda b: b[:16].decode())
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_a_number_out_of_range_is_a_502_naming_field_and_account(
    literal: bytes, suffix: str
) -> None:
    def tamper(call: Call) -> Reply | None:
        if call.endpoint != "insights" or call.query["account"] != "1":
            return None
        body = dict(call.honest)
        body["insights"] = [dict(body["insights"][0], spend="@@"), *body["insights"][1:]]
        return raw_reply(json.dumps(body).encode().replace(b'"@@"', literal))

    with HostileUpstream(tamper) as upstream:
        app = create_app({"TESTING": True}, settings=Settings(api_url=upstream.url, **FAST))
        try:
            started = time.monotonic()
            response = app.test_client().get(f"/meta_ads/resumo{suffix}")
            assert time.monotonic() - started < 5
        finally:
            close_app(app)
    assert response.status_code == 502
    assert len(response.data) < 1000
    error = response.json
    assert error["status"] == 502  # type: ignore[index]
    assert error["detail"].startswith(  # type: ignore[index]
        "insights of Facebook Ads account 'Jorginho': Spend value "
    )
    assert "is out of range" in error["detail"]  # type: ignore[index]
