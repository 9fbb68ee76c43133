"""Properties: paging, completion order and summing never change what a report says."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets import edge_dataset, fields
from stract_reports import close_app, create_app
from stract_reports.config import Settings
from stract_reports.simulator import Dataset, SimAccount, SimPlatform, Simulator, real_dataset

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


@PROPERTY
@given(accounts=page_size, field_pages=page_size, insights=page_size)
def test_any_page_size_gives_the_same_bytes(
    sim: Simulator,
    http: FlaskClient,
    accounts: int | None,
    field_pages: int | None,
    insights: int | None,
) -> None:
    reference = edge_dataset(insights_page_size=None)
    expected = {p: _serve(sim, reference, http, p) for p in ("/geral", "/geral/resumo")}
    dataset = edge_dataset(insights_page_size=None)
    for platform in dataset.platforms:
        platform.accounts_page_size = accounts
        platform.fields_page_size = field_pages
        platform.insights_page_size = insights
    for path, body in expected.items():
        assert _serve(sim, dataset, http, path) == body


number = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**9),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False),
)
cell = st.one_of(number, number.map(str))
ads = st.lists(st.fixed_dictionaries({"clicks": cell, "spend": cell}), max_size=5)


@PROPERTY
@given(accounts=st.lists(ads, min_size=1, max_size=4))
def test_summary_sums_equal_the_sums_of_ad_rows(
    sim: Simulator, http: FlaskClient, accounts: list[list[dict[str, object]]]
) -> None:
    rows_by_account = [
        [{"id": i + 1, **ad} for i, ad in enumerate(account)] for account in accounts
    ]
    platform = SimPlatform(
        text="P",
        value="p",
        fields=fields(("Clicks", "clicks"), ("Spend", "spend")),
        accounts=[
            SimAccount(str(i + 1), "Same name", f"t{i}", rows)
            for i, rows in enumerate(rows_by_account)
        ],
        accounts_page_size=2,
    )
    dataset = Dataset([platform])
    ad_rows = _rows(_serve(sim, dataset, http, "/p"))
    per_account = _rows(_serve(sim, dataset, http, "/p/resumo"))
    overall = _rows(_serve(sim, dataset, http, "/geral/resumo"))
    assert len(per_account) == len(accounts)
    assert len(ad_rows) == sum(len(a) for a in accounts)
    start = 0
    for account, summary in zip(accounts, per_account, strict=True):
        for column, key in (("Clicks", "clicks"), ("Spend", "spend")):
            values = [Decimal(str(ad[key])) for ad in account]
            assert _value(summary[column]) == (sum(values) if values else None)
            shown = [Decimal(r[column]) for r in ad_rows[start : start + len(account)]]
            assert shown == values
        start += len(account)
    for column, key in (("Clicks", "clicks"), ("Spend", "spend")):
        total = [Decimal(str(ad[key])) for account in accounts for ad in account]
        assert _value(overall[0][column]) == (sum(total) if total else None)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**16))
def test_completion_order_never_changes_the_bytes(
    sim: Simulator, http: FlaskClient, seed: int
) -> None:
    dataset = real_dataset()
    expected = {p: _serve(sim, dataset, http, p) for p in ("/geral", "/meta_ads/resumo")}
    sim.latency, sim.jitter = 0.01, 0.01
    sim._rng.seed(seed)
    try:
        for path, body in expected.items():
            assert _serve(sim, dataset, http, path) == body
    finally:
        sim.latency = sim.jitter = 0.0


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _value(text: str) -> Decimal | None:
    return Decimal(text) if text else None
