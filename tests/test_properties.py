"""Properties: paging, completion order and summing never change what a report says.

Paging and completion order are properties of fetching: they go through a real server. Sums
and printing are properties of the pure core: built directly, hundreds of examples a second.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Context, Decimal, localcontext
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets import edge_dataset
from stract_reports import close_app, create_app
from stract_reports.config import Settings
from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.render.csv import render_csv
from stract_reports.render.json import render_json
from stract_reports.reports.spec import ReportSpec
from stract_reports.simulator import Dataset, Simulator, real_dataset
from tables import whole

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(real_dataset()) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def http(sim: Simulator) -> Iterator[FlaskClient]:
    app = create_app(settings=Settings(api_url=sim.url, backoff=0.01))
    yield app.test_client()
    close_app(app)


def _serve(sim: Simulator, dataset: Dataset, http: FlaskClient, path: str) -> bytes:
    sim.dataset = dataset
    response = http.get(path)
    assert response.status_code == 200, response.data
    return response.data


page_size = st.one_of(st.none(), st.integers(min_value=1, max_value=4))


@pytest.fixture(scope="module")
def edge_bytes(sim: Simulator, http: FlaskClient) -> dict[str, bytes]:
    reference = edge_dataset(insights_page_size=None)
    return {p: _serve(sim, reference, http, p) for p in ("/geral", "/geral/resumo")}


@pytest.fixture(scope="module")
def real_bytes(sim: Simulator, http: FlaskClient) -> dict[str, bytes]:
    return {p: _serve(sim, real_dataset(), http, p) for p in ("/geral", "/meta_ads/resumo")}


@PROPERTY
@given(accounts=page_size, field_pages=page_size, insights=page_size)
def test_any_page_size_gives_the_same_bytes(
    sim: Simulator,
    http: FlaskClient,
    edge_bytes: dict[str, bytes],
    accounts: int | None,
    field_pages: int | None,
    insights: int | None,
) -> None:
    expected = edge_bytes
    dataset = edge_dataset(insights_page_size=None)
    for platform in dataset.platforms:
        platform.accounts_page_size = accounts
        platform.fields_page_size = field_pages
        platform.insights_page_size = insights
    for path, body in expected.items():
        assert _serve(sim, dataset, http, path) == body


# Numbers anywhere within the bounds (30 digits, magnitude below 1e21), as JSON numbers or
# numeric strings; summaries of them are computed directly, without a server.
number = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
    st.decimals(min_value=Decimal("-1e20"), max_value=Decimal("1e20"), places=9, allow_nan=False),
)
cell = st.one_of(st.none(), number, number.map(str))
ad = st.fixed_dictionaries({"clicks": cell, "spend": cell})
FAST_PROPERTY = settings(max_examples=200, deadline=None)


@FAST_PROPERTY
@given(accounts=st.lists(st.lists(ad, max_size=6), min_size=1, max_size=5))
def test_summary_sums_equal_the_sums_of_ad_rows(accounts: list[list[dict[str, Any]]]) -> None:
    data = PlatformData(
        Platform("p", "P"),
        [Field("clicks", "Clicks"), Field("spend", "Spend")],
        [
            AccountData(
                Account(str(i), "Same name", f"t{i}"), [(a["clicks"], a["spend"]) for a in ads]
            )
            for i, ads in enumerate(accounts)
        ],
    )
    ad_rows = whole([data], ReportSpec("p")).rows
    per_account = whole([data], ReportSpec("p", summary=True)).rows
    overall = whole([data], ReportSpec(None, summary=True)).rows
    assert len(per_account) == len(accounts)
    assert len(ad_rows) == sum(len(a) for a in accounts)
    start = 0
    for account, summary in zip(accounts, per_account, strict=True):
        for column, key in ((2, "clicks"), (3, "spend")):
            values = [Decimal(str(a[key])) for a in account if a[key] is not None]
            assert summary[column] == (_exact_sum(values) if values else None)
            shown = [r[column] for r in ad_rows[start : start + len(account)]]
            assert shown == [None if a[key] is None else Decimal(str(a[key])) for a in account]
        start += len(account)
    for column, key in ((2, "clicks"), (3, "spend")):
        total = [Decimal(str(a[key])) for ads in accounts for a in ads if a[key] is not None]
        assert overall[0][column] == (_exact_sum(total) if total else None)


@FAST_PROPERTY
@given(accounts=st.lists(st.lists(ad, max_size=6), min_size=1, max_size=3))
def test_csv_and_json_print_the_same_numbers(accounts: list[list[dict[str, Any]]]) -> None:
    data = PlatformData(
        Platform("p", "P"),
        [Field("clicks", "Clicks"), Field("spend", "Spend"), Field("cpc", "Cost per Click")],
        [
            AccountData(Account(str(i), "A", "t"), [(a["clicks"], a["spend"], None) for a in ads])
            for i, ads in enumerate(accounts)
        ],
    )
    for table in (whole([data], ReportSpec("p")), whole([data], ReportSpec("p", summary=True))):
        csv_rows = _rows(render_csv(table).encode())
        moment = datetime(2025, 2, 1, tzinfo=UTC)
        document = json.loads(render_json(table, moment), parse_float=str, parse_int=str)
        for json_row, csv_row in zip(document["rows"], csv_rows, strict=True):
            assert {k: "" if v is None else v for k, v in json_row.items()} == csv_row


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_completion_order_never_changes_the_bytes(
    sim: Simulator, http: FlaskClient, real_bytes: dict[str, bytes], seed: int
) -> None:
    dataset = real_dataset()
    expected = real_bytes
    sim.latency, sim.jitter = 0.01, 0.01
    sim._rng.seed(seed)
    try:
        for path, body in expected.items():
            assert _serve(sim, dataset, http, path) == body
    finally:
        sim.latency = sim.jitter = 0.0


def _exact_sum(values: list[Decimal]) -> Decimal:
    with localcontext(Context(prec=200)):  # the default 28 digits would round these sums
        return sum(values, Decimal(0))


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _value(text: str) -> Decimal | None:
    return Decimal(text) if text else None
