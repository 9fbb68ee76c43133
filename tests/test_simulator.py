"""Contract tests of the embedded Stract API simulator, spoken to over real loopback HTTP."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import requests

from stract_reports.simulator import (
    DEFAULT_TOKEN,
    FAULT_KINDS,
    FaultRule,
    Growth,
    Simulator,
    parse_faults,
    synthetic_dataset,
)
from stract_reports.simulator.dataset import challenge_text
from support import CLI, free_port

MakeSimulator = Callable[..., Simulator]

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
INVALID = {"error": "invalid request"}
PLATFORMS = {
    "platforms": [
        {"text": "Facebook Ads", "value": "meta_ads"},
        {"text": "Google Analytics", "value": "ga4"},
        {"text": "TikTok", "value": "tiktok_insights"},
    ]
}
META_1_TOKEN = "cf76cf576fc567fc56fc5c6f5cf67fc6"
META_1 = {
    "platform": "meta_ads",
    "account": "1",
    "token": META_1_TOKEN,
    "fields": "clicks,impressions,spend,cpc,ctr",
}
META_ACCOUNTS_PAGE_1 = [
    {"id": "1", "name": "Jorginho", "token": META_1_TOKEN},
    {"id": "2", "name": "Ricardo Rocha", "token": "c48f4c8fc48fc4f8c4f5c45fc484c8f4"},
    {"id": "3", "name": "Ronaldão", "token": "cf4486c7f674c6c7f4c746cf989c8f4c"},
    {"id": "4", "name": "Mauro Silva", "token": "cf3ffc87cfc87c76fcf3f289f87c6ffc"},
    {"id": "5", "name": "Branco", "token": "cf4cf6567cf76fc56c5f643cf988c9cf"},
]


def field_list(*pairs: str) -> list[dict[str, str]]:
    """Fields as the API lists them, from alternating value and label."""
    return [
        {"text": text, "value": value} for value, text in zip(pairs[::2], pairs[1::2], strict=True)
    ]


META_FIELDS_1 = field_list(
    "clicks", "Clicks", "impressions", "Impressions", "spend", "Spend",
    "cpc", "Cost Per Click", "ctr", "Clickthrough Rate",
)  # fmt: skip
META_FIELDS_2 = field_list(
    "ad_name", "Ad Name", "effective_status", "Status", "global_objective", "Objective",
    "country", "Country", "ctr_unique", "Unique CTR",
)  # fmt: skip
GA4_FIELDS = field_list(
    "adName", "Ad Name", "impressions", "Impressions", "cost", "Spend",
    "region", "Country", "clicks", "Clicks", "status", "Status",
)  # fmt: skip
TIKTOK_FIELDS = field_list(
    "ad_name", "Ad Name", "impressions", "Impressions", "clicks", "Clicks", "status", "Status",
    "country", "Country", "cost", "Spend", "cost_per_click", "Cost Per Click",
)  # fmt: skip


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """An HTTP session that sends the public bearer token."""
    with requests.Session() as s:
        s.headers.update(AUTH)
        yield s


def call(session: requests.Session, sim: Simulator, endpoint: str, **params: Any) -> Any:
    """GET one API endpoint of ``sim``."""
    return session.get(f"{sim.url}/{endpoint}", params=params, timeout=5)


def body(session: requests.Session, sim: Simulator, endpoint: str, **params: Any) -> Any:
    """The JSON body of a GET that must answer 200."""
    response = call(session, sim, endpoint, **params)
    assert response.status_code == 200
    return response.json()


def all_pages(session: requests.Session, sim: Simulator, endpoint: str, **params: Any) -> list:
    """Every item of a possibly paginated endpoint, following ``pagination``."""
    items: list[Any] = []
    page = 1
    while True:
        data = body(session, sim, endpoint, page=page, **params)
        items += data[endpoint]
        if "pagination" not in data or page >= data["pagination"]["total"]:
            return items
        page += 1


def sim_path(sim: Simulator, path: str) -> str:
    """A URL outside ``/api`` on ``sim``, such as ``/_sim/stats``."""
    return f"http://127.0.0.1:{sim.port}{path}"


# -- platforms, root, accounts, fields ---------------------------------------------------------


def test_platforms_body_is_exact(session: requests.Session, simulator: Simulator) -> None:
    assert body(session, simulator, "platforms") == PLATFORMS


def test_root_returns_the_challenge_text(session: requests.Session, simulator: Simulator) -> None:
    response = session.get(simulator.url, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == challenge_text()
    assert response.text.lstrip().startswith("Bem vind@ ao processo seletivo da Stract!")
    assert "/api/insights?platform={{platform}}" in response.text


def test_meta_accounts_first_page_is_the_capture(
    session: requests.Session, simulator: Simulator
) -> None:
    assert body(session, simulator, "accounts", platform="meta_ads") == {
        "accounts": META_ACCOUNTS_PAGE_1,
        "pagination": {"current": 1, "total": 3},
    }


@pytest.mark.parametrize(
    ("platform", "page", "names", "pagination"),
    [
        ("meta_ads", 1, ["Jorginho", "Ricardo Rocha", "Ronaldão", "Mauro Silva", "Branco"],
         {"current": 1, "total": 3}),
        ("meta_ads", 2, ["Bebeto", "Dunga", "Zinhao", "Raí", "Romário"],
         {"current": 2, "total": 3}),
        ("meta_ads", 3, ["Taffarel"], {"current": 3, "total": 3}),
        ("ga4", 1, ["Nalbert Bitencourt", "Dante Amaral", "Sérgio Dutra Santos"],
         {"current": 1, "total": 2}),
        ("ga4", 2, ["Giba", "Ricardinho", "Gustavo Endres"], {"current": 2, "total": 2}),
        ("tiktok_insights", None, ["Ana Patrícia Ramos", "Duda Lisboa"], None),
    ],
)  # fmt: skip
def test_every_accounts_page(
    session: requests.Session,
    simulator: Simulator,
    platform: str,
    page: int | None,
    names: list[str],
    pagination: dict[str, int] | None,
) -> None:
    params = {"platform": platform} if page is None else {"platform": platform, "page": page}
    data = body(session, simulator, "accounts", **params)
    assert [a["name"] for a in data["accounts"]] == names
    assert data.get("pagination") == pagination
    assert set(data) == ({"accounts"} if pagination is None else {"accounts", "pagination"})
    digits = 33 if platform == "ga4" else 32
    for account in data["accounts"]:
        assert set(account) == {"id", "name", "token"}
        assert len(account["token"]) == digits
        assert set(account["token"]) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    ("platform", "ids"),
    [
        ("meta_ads", [str(i) for i in range(1, 12)]),
        ("ga4", ["1", "2", "3", "4", "5", "6"]),
        ("tiktok_insights", ["1", "2"]),
    ],
)
def test_account_ids_are_scoped_per_platform(
    session: requests.Session, simulator: Simulator, platform: str, ids: list[str]
) -> None:
    accounts = all_pages(session, simulator, "accounts", platform=platform)
    assert [a["id"] for a in accounts] == ids


PAGE_1_OF_2 = {"current": 1, "total": 2}
PAGE_2_OF_2 = {"current": 2, "total": 2}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"platform": "meta_ads"}, {"fields": META_FIELDS_1, "pagination": PAGE_1_OF_2}),
        ({"platform": "meta_ads", "page": 1}, {"fields": META_FIELDS_1, "pagination": PAGE_1_OF_2}),
        ({"platform": "meta_ads", "page": 2}, {"fields": META_FIELDS_2, "pagination": PAGE_2_OF_2}),
        ({"platform": "ga4"}, {"fields": GA4_FIELDS}),
        ({"platform": "tiktok_insights"}, {"fields": TIKTOK_FIELDS}),
    ],
)
def test_fields_bodies_are_exact(
    session: requests.Session, simulator: Simulator, params: dict, expected: dict
) -> None:
    assert body(session, simulator, "fields", **params) == expected


@pytest.mark.parametrize(
    ("endpoint", "params", "expected"),
    [
        ("accounts", {"platform": "meta_ads", "page": 4},
         {"accounts": [], "pagination": {"current": 4, "total": 3}}),
        ("accounts", {"platform": "ga4", "page": 3},
         {"accounts": [], "pagination": {"current": 3, "total": 2}}),
        ("fields", {"platform": "meta_ads", "page": 9},
         {"fields": [], "pagination": {"current": 9, "total": 2}}),
        ("accounts", {"platform": "tiktok_insights", "page": 2}, {"accounts": []}),
        ("fields", {"platform": "ga4", "page": 2}, {"fields": []}),
        ("insights", {**META_1, "page": 2}, {"insights": []}),
    ],
)  # fmt: skip
def test_a_page_beyond_the_last_is_empty(
    session: requests.Session, simulator: Simulator, endpoint: str, params: dict, expected: dict
) -> None:
    assert body(session, simulator, endpoint, **params) == expected


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        ("platforms", {}),
        ("accounts", {"platform": "tiktok_insights"}),
        ("fields", {"platform": "ga4"}),
        ("insights", META_1),
    ],
)
def test_page_one_of_an_unpaginated_endpoint_is_the_whole_answer(
    session: requests.Session, simulator: Simulator, endpoint: str, params: dict
) -> None:
    whole = body(session, simulator, endpoint, **params)
    assert "pagination" not in whole
    assert body(session, simulator, endpoint, page=1, **params) == whole


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5"])
@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        ("accounts", {"platform": "meta_ads"}),
        ("accounts", {"platform": "tiktok_insights"}),
        ("fields", {"platform": "meta_ads"}),
        ("insights", META_1),
    ],
)
def test_a_bad_page_is_an_invalid_request(
    session: requests.Session, simulator: Simulator, endpoint: str, params: dict, page: str
) -> None:
    assert body(session, simulator, endpoint, page=page, **params) == INVALID


# -- insights ----------------------------------------------------------------------------------


def test_insights_of_meta_account_1_are_the_capture(
    session: requests.Session, simulator: Simulator
) -> None:
    row = {
        "clicks": 886,
        "cpc": 0.335,
        "ctr": 0.386,
        "id": 1,
        "impressions": 2777,
        "spend": 6915.93,
    }
    assert body(session, simulator, "insights", **META_1) == {"insights": [row]}


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        ("spend,ad_name,clicks", ["ad_name", "clicks", "id", "spend"]),
        ("ctr", ["ctr", "id"]),
        ("id", ["id"]),
        ("country,country", ["country", "id"]),
    ],
)
def test_insights_carry_only_requested_fields_plus_id_sorted(
    session: requests.Session, simulator: Simulator, fields: str, keys: list[str]
) -> None:
    params = {**META_1, "account": "7", "token": "a386a82ef3ead3edcdd434bc2dc164ce"}
    response = call(session, simulator, "insights", **{**params, "fields": fields})
    rows = response.json()["insights"]
    assert len(rows) == 6
    assert [list(row) for row in rows] == [keys] * 6
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("platform", "fields", "ads", "totals"),
    [
        ("meta_ads", "clicks,impressions,spend", 42,
         {"clicks": 250977, "impressions": 206806, "spend": Decimal("190803.63")}),
        ("ga4", "clicks,impressions,cost", 14,
         {"clicks": 70365, "impressions": 86875, "cost": Decimal("56484.31")}),
        ("tiktok_insights", "clicks,impressions,cost", 10,
         {"clicks": 41717, "impressions": 53125, "cost": Decimal("45602.28")}),
    ],
)  # fmt: skip
def test_insight_totals_over_every_account_match_the_captures(
    session: requests.Session,
    simulator: Simulator,
    platform: str,
    fields: str,
    ads: int,
    totals: dict[str, Any],
) -> None:
    rows: list[dict[str, Any]] = []
    for account in all_pages(session, simulator, "accounts", platform=platform):
        params = {"platform": platform, "account": account["id"], "token": account["token"]}
        response = call(session, simulator, "insights", fields=fields, **params)
        rows += json.loads(response.text, parse_float=Decimal)["insights"]
    assert len(rows) == ads
    assert {key: sum(row[key] for row in rows) for key in totals} == totals


def meta_1_row(session: requests.Session, sim: Simulator) -> dict[str, Any]:
    """The one ad of meta account 1, numbers exact."""
    response = call(session, sim, "insights", **META_1)
    (row,) = json.loads(response.text, parse_float=Decimal)["insights"]
    return row


def test_growth_makes_lifetime_metrics_grow_with_time(
    session: requests.Session, make_simulator: MakeSimulator
) -> None:
    now = [1000.0]
    sim = make_simulator(growth=Growth(0.01, start=1000.0, clock=lambda: now[0]))
    captured = {"clicks": 886, "impressions": 2777, "spend": Decimal("6915.93")}

    start = meta_1_row(session, sim)
    assert {k: start[k] for k in captured} == captured
    now[0] += 600  # ten minutes later
    later = meta_1_row(session, sim)
    now[0] += 600
    latest = meta_1_row(session, sim)

    for key, base in captured.items():
        assert base < later[key] < latest[key]  # lifetime numbers only grow
        # about 10 % per ten minutes, within the per-ad factor of 0.5 to 1.5
        assert base * Decimal("1.05") <= later[key] <= base * Decimal("1.15")
    assert type(later["clicks"]) is int and type(later["impressions"]) is int
    assert later["spend"] == later["spend"].quantize(Decimal("0.01"))  # whole cents
    assert (later["cpc"], later["ctr"]) == (Decimal("0.335"), Decimal("0.386"))  # served ratios


def test_growth_is_the_same_in_every_simulator_at_the_same_time(
    session: requests.Session, make_simulator: MakeSimulator
) -> None:
    def clock() -> float:
        return 4600.0

    one = make_simulator(growth=Growth(0.02, start=1000.0, clock=clock))
    two = make_simulator(growth=Growth(0.02, start=1000.0, clock=clock))
    frozen = make_simulator()
    assert meta_1_row(session, one) == meta_1_row(session, two) != meta_1_row(session, frozen)


def test_growth_refuses_a_negative_rate() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Growth(-0.01)


# -- authorization and invalid requests --------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("", 401),
        ("Bearer wrong", 401),
        ("wrong", 401),
        (f"Bearer {DEFAULT_TOKEN}x", 401),
        (f"Basic {DEFAULT_TOKEN}", 401),
        (f"Bearer {DEFAULT_TOKEN}", 200),
        (f"bearer {DEFAULT_TOKEN}", 200),
        (DEFAULT_TOKEN, 200),
    ],
)
@pytest.mark.parametrize(
    ("endpoint", "params"),
    [("platforms", {}), ("accounts", {"platform": "ga4"}), ("insights", META_1)],
)
def test_bearer_token_is_checked_in_both_forms(
    session: requests.Session,
    simulator: Simulator,
    endpoint: str,
    params: dict,
    authorization: str | None,
    status: int,
) -> None:
    response = session.get(
        f"{simulator.url}/{endpoint}",
        params=params,
        headers={"Authorization": authorization},
        timeout=5,
    )
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    if status == 401:
        assert list(response.json()) == ["error"]
    else:
        assert "error" not in response.json()


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        pytest.param("accounts", {}, id="accounts-no-platform"),
        pytest.param("accounts", {"platform": "facebook"}, id="accounts-unknown-platform"),
        pytest.param("fields", {"platform": "META_ADS"}, id="fields-unknown-platform"),
        pytest.param("insights", {**META_1, "platform": "nope"}, id="unknown-platform"),
        pytest.param("insights", {**META_1, "account": "12"}, id="unknown-account"),
        pytest.param("insights", {**META_1, "account": ""}, id="empty-account"),
        pytest.param("insights", {**META_1, "token": "0" * 32}, id="wrong-token"),
        pytest.param(
            "insights",
            {**META_1, "token": "c48f4c8fc48fc4f8c4f5c45fc484c8f4"},
            id="another-accounts-token",
        ),
        pytest.param("insights", {**META_1, "platform": "ga4"}, id="token-of-other-platform"),
        pytest.param("insights", {**META_1, "token": ""}, id="empty-token"),
        pytest.param("insights", {k: v for k, v in META_1.items() if k != "token"}, id="no-token"),
        pytest.param(
            "insights", {k: v for k, v in META_1.items() if k != "fields"}, id="no-fields"
        ),
        pytest.param("insights", {**META_1, "fields": ""}, id="empty-fields"),
        pytest.param("insights", {**META_1, "fields": ",,"}, id="only-commas"),
    ],
)
def test_invalid_requests_answer_200_with_an_error_body(
    session: requests.Session, simulator: Simulator, endpoint: str, params: dict
) -> None:
    assert body(session, simulator, endpoint, **params) == INVALID


@pytest.mark.parametrize("path", ["/api/nope", "/api/platforms/x", "/", "/_sim"])
def test_unknown_paths_are_404(session: requests.Session, simulator: Simulator, path: str) -> None:
    response = session.get(sim_path(simulator, path), timeout=5)
    assert (response.status_code, response.json()) == (404, {"error": "not found"})


# -- faults ------------------------------------------------------------------------------------

PAGINATION_FAULTS = {
    "no-total": {"current": 1},
    "zero-total": {"current": 1, "total": 0},
    "text-total": {"current": 1, "total": "many"},
}
COVERED_FAULTS = {"429", "500", "502", "503", "slow", "stall", "truncate", "malformed", "drop"}
COVERED_FAULTS |= {"error"}
COVERED_FAULTS |= {"401", *PAGINATION_FAULTS}
COVERED_FAULTS |= {"huge-total", "huge-body", "gzip-bomb", "drip", "redirect", "deep", "dup-keys"}


def test_every_fault_kind_has_a_contract_test() -> None:
    assert set(FAULT_KINDS) == COVERED_FAULTS


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (1.0, "1"), (0.5, "0.5")])
def test_429_fault_carries_retry_after(
    make_simulator: MakeSimulator, session: requests.Session, retry_after: float, header: str
) -> None:
    sim = make_simulator(faults=[FaultRule("429", retry_after=retry_after)])
    response = call(session, sim, "platforms")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == header
    assert list(response.json()) == ["error"]


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_error_faults_answer_with_their_status(
    make_simulator: MakeSimulator, session: requests.Session, kind: str
) -> None:
    sim = make_simulator(faults=[FaultRule(kind)])
    response = call(session, sim, "accounts", platform="meta_ads")
    assert response.status_code == int(kind)
    assert "Retry-After" not in response.headers


def test_slow_fault_outlasts_a_short_client_timeout(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("slow", delay=0.3)])
    with pytest.raises(requests.Timeout):
        session.get(f"{sim.url}/platforms", timeout=0.1)


def test_slow_fault_answers_correctly_after_its_delay(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("slow", delay=0.3)])
    start = time.monotonic()
    assert body(session, sim, "platforms") == PLATFORMS
    assert time.monotonic() - start >= 0.3


def test_stall_fault_sends_half_the_body_then_pauses(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("stall", delay=0.3)])
    with session.get(f"{sim.url}/platforms", timeout=5, stream=True) as response:
        assert response.status_code == 200  # the headers are not delayed
        start = time.monotonic()
        assert json.loads(response.content) == PLATFORMS
        assert time.monotonic() - start >= 0.25


def test_stall_fault_outlasts_a_short_read_timeout(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("stall", delay=0.5)])
    with pytest.raises(requests.ConnectionError, match="timed out"):
        session.get(f"{sim.url}/platforms", timeout=0.2)


def test_truncate_fault_breaks_the_body_for_requests(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("truncate")])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(session, sim, "platforms")


def test_truncate_fault_sends_half_of_the_promised_body(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults=[FaultRule("truncate")])
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        connection.request("GET", "/api/platforms", headers=AUTH)
        response = connection.getresponse()
        promised = int(response.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as excinfo:
            response.read()
    finally:
        connection.close()
    whole = json.dumps(PLATFORMS).encode()
    assert response.status == 200
    assert promised == len(whole)
    assert excinfo.value.partial == whole[: len(whole) // 2]


def test_malformed_fault_is_200_without_json(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("malformed")])
    response = call(session, sim, "fields", platform="ga4")
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_drop_fault_closes_the_connection(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("drop")])
    with pytest.raises(requests.ConnectionError):
        call(session, sim, "platforms")


def test_error_fault_is_an_invalid_request(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("error")])
    assert body(session, sim, "insights", **META_1) == INVALID


def test_401_fault_refuses_the_right_token(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("401")])
    response = call(session, sim, "platforms")
    assert response.status_code == 401
    assert list(response.json()) == ["error"]


@pytest.mark.parametrize(("kind", "pagination"), PAGINATION_FAULTS.items())
def test_pagination_faults_bend_the_total(
    make_simulator: MakeSimulator, session: requests.Session, kind: str, pagination: dict
) -> None:
    sim = make_simulator(faults=[FaultRule(kind)])
    data = body(session, sim, "accounts", platform="meta_ads")
    assert data == {"accounts": META_ACCOUNTS_PAGE_1, "pagination": pagination}


def test_huge_total_fault_claims_a_billion_pages(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("huge-total")])
    data = body(session, sim, "accounts", platform="meta_ads")
    assert data == {"accounts": META_ACCOUNTS_PAGE_1, "pagination": {"current": 1, "total": 10**9}}


def test_huge_body_fault_sends_a_gibibyte_without_a_length(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults=[FaultRule("huge-body")])
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        connection.request("GET", "/api/platforms", headers=AUTH)
        response = connection.getresponse()
        head = response.read(16 + 4 * 1024 * 1024)  # read a little, then hang up
    finally:
        connection.close()
    assert response.status == 200
    assert response.headers["Content-Length"] is None
    assert head == b'{"platforms": ["' + b"a" * 4 * 1024 * 1024


def test_gzip_bomb_fault_inflates_a_thousandfold(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults=[FaultRule("gzip-bomb")])
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
    try:
        connection.request("GET", "/api/platforms", headers=AUTH)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    # Gzip members (RFC 1952 allows several): the JSON's opening, then one megabyte of "a"
    # repeated 1,024 times, byte for byte the same member: 1 GiB for every reader.
    opening = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = opening.decompress(data)
    rest = opening.unused_data
    first = zlib.decompressobj(16 + zlib.MAX_WBITS)
    megabyte = first.decompress(rest)
    member = rest[: len(rest) - len(first.unused_data)]
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(data) < 2 * 1024 * 1024
    assert (head, opening.eof, first.eof) == (b'{"platforms": ["', True, True)
    assert megabyte == b"a" * 1024 * 1024
    assert rest == member * 1024


def test_drip_fault_sends_the_right_body_a_byte_at_a_time(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("drip", delay=0.002)])
    start = time.monotonic()
    assert body(session, sim, "platforms") == PLATFORMS
    assert time.monotonic() - start >= 0.002 * (len(json.dumps(PLATFORMS)) - 1)


def test_redirect_fault_points_elsewhere_with_the_same_query(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("redirect")])
    response = session.get(
        f"{sim.url}/accounts?platform=ga4&page=1", timeout=5, allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.2:9/api/accounts?platform=ga4&page=1"


def test_deep_fault_nests_past_the_parser_limit(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("deep")])
    response = call(session, sim, "platforms")
    assert response.status_code == 200
    assert response.content == b'{"platforms": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(RecursionError):
        json.loads(response.content)


def test_dup_keys_fault_repeats_the_list_empty(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("dup-keys")])
    response = call(session, sim, "platforms")
    keys = json.loads(response.content, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
    assert keys == ["platforms", "platforms"]
    assert response.content.startswith(json.dumps(PLATFORMS)[:-1].encode())
    assert response.json() == {"platforms": []}  # what a lenient parser keeps


@pytest.mark.parametrize("kind", PAGINATION_FAULTS)
def test_pagination_faults_leave_unpaginated_bodies_alone(
    make_simulator: MakeSimulator, session: requests.Session, kind: str
) -> None:
    sim = make_simulator(faults=[FaultRule(kind)])
    assert body(session, sim, "platforms") == PLATFORMS
    assert body(session, sim, "fields", platform="tiktok_insights") == {"fields": TIKTOK_FIELDS}


@pytest.mark.parametrize("first", [1, 2])
def test_first_n_fault_fires_on_the_first_calls_of_each_distinct_url(
    make_simulator: MakeSimulator, session: requests.Session, first: int
) -> None:
    sim = make_simulator(faults=[FaultRule("503", first=first)])
    expected = [503] * first + [200, 200]
    for platform in ("meta_ads", "ga4"):
        statuses = [call(session, sim, "fields", platform=platform).status_code for _ in range(4)]
        assert statuses[: first + 2] == expected
    assert call(session, sim, "fields", platform="meta_ads", page=2).status_code == 503


CALLS = [
    ("platforms", {}),
    ("accounts", {"platform": "ga4"}),
    ("fields", {"platform": "meta_ads"}),
    ("insights", META_1),
]


@pytest.mark.parametrize(
    ("match", "failing"),
    [
        ("insights", [False, False, False, True]),
        ("platform=ga4", [False, True, False, False]),
        ("account=1", [False, False, False, True]),
        ("/api/", [True, True, True, True]),
        ("", [True, True, True, True]),
        ("tiktok", [False, False, False, False]),
    ],
)
def test_match_restricts_a_fault_to_matching_urls(
    make_simulator: MakeSimulator, session: requests.Session, match: str, failing: list[bool]
) -> None:
    sim = make_simulator(faults=[FaultRule("500", match=match)])
    statuses = [call(session, sim, endpoint, **params).status_code for endpoint, params in CALLS]
    assert statuses == [500 if fails else 200 for fails in failing]


def fault_statuses(sim: Simulator, calls: int = 40) -> list[int]:
    """Statuses of a fixed sequence of calls; some URLs repeat so call numbers vary."""
    with requests.Session() as s:
        s.headers.update(AUTH)
        return [
            s.get(f"{sim.url}/platforms", params={"n": i % 25}, timeout=5).status_code
            for i in range(calls)
        ]


def test_probability_faults_are_deterministic_for_a_seed(make_simulator: MakeSimulator) -> None:
    def statuses(seed: int) -> list[int]:
        return fault_statuses(make_simulator(faults=[FaultRule("500", probability=0.5)], seed=seed))

    first, again, other_seed = statuses(7), statuses(7), statuses(8)
    assert first == again
    assert set(first) == {200, 500}
    assert other_seed != first


@pytest.mark.parametrize(("probability", "status"), [(0.0, 200), (1.0, 500)])
def test_probability_zero_never_fires_and_one_always_does(
    make_simulator: MakeSimulator, probability: float, status: int
) -> None:
    sim = make_simulator(faults=[FaultRule("500", probability=probability)])
    assert fault_statuses(sim) == [status] * 40


def test_first_matching_rule_wins(make_simulator: MakeSimulator, session: requests.Session) -> None:
    rules = [FaultRule("503", match="ga4"), FaultRule("500", match="platform=")]
    sim = make_simulator(faults=rules)
    statuses = [call(session, sim, endpoint, **params).status_code for endpoint, params in CALLS]
    assert statuses == [200, 503, 500, 500]


@pytest.mark.parametrize(
    ("spec", "rules"),
    [
        ("", []),
        (
            "429:first=1:retry_after=2,500:p=0.05:match=/insights",
            [
                FaultRule("429", first=1, retry_after=2.0),
                FaultRule("500", probability=0.05, match="/insights"),
            ],
        ),
        ("slow:delay=0.3", [FaultRule("slow", delay=0.3)]),
        (" drop , error ,", [FaultRule("drop"), FaultRule("error")]),
        ("text-total:match=account=3", [FaultRule("text-total", match="account=3")]),
        (",".join(FAULT_KINDS), [FaultRule(kind) for kind in FAULT_KINDS]),
    ],
)
def test_parse_faults_builds_rules(spec: str, rules: list[FaultRule]) -> None:
    assert parse_faults(spec) == rules


@pytest.mark.parametrize(
    "spec",
    [
        "boom",
        "404",
        "429:when=1",
        "429:first",
        "500:first=x",
        "500:p=2",
        "500:p=-0.1",
        "slow:delay",
    ],
)
def test_parse_faults_rejects_unknown_kinds_and_options(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_faults(spec)


# -- latency and counters ----------------------------------------------------------------------


def test_latency_overlaps_across_concurrent_calls(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(latency=0.2)

    def fetch(_: int) -> Any:
        return requests.get(f"{sim.url}/platforms", headers=AUTH, timeout=5).json()

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        bodies = list(pool.map(fetch, range(20)))
    elapsed = time.monotonic() - start
    assert bodies == [PLATFORMS] * 20
    assert 0.2 <= elapsed < 1.5
    stats = requests.get(sim_path(sim, "/_sim/stats"), timeout=5).json()
    assert stats["requests"]["platforms"] == 20
    assert stats["max_in_flight"] >= 10


def test_calls_on_a_kept_alive_connection_are_fast(
    session: requests.Session, simulator: Simulator
) -> None:
    # With Nagle's algorithm on, each reply waited ~40 ms for the client's delayed ACK.
    start = time.monotonic()
    for _ in range(20):
        assert body(session, simulator, "platforms") == PLATFORMS
    assert time.monotonic() - start < 0.5


ZERO_REQUESTS = {"platforms": 0, "accounts": 0, "fields": 0, "insights": 0}


def test_stats_count_calls_by_endpoint_and_reset_clears_them(
    session: requests.Session, simulator: Simulator
) -> None:
    calls = [
        ("platforms", {}),
        ("accounts", {"platform": "meta_ads"}),
        ("accounts", {"platform": "ga4", "page": 2}),
        ("fields", {"platform": "nope"}),
        *[("insights", META_1)] * 3,
    ]
    started = time.monotonic()
    for endpoint, params in calls:
        call(session, simulator, endpoint, **params)
    session.get(simulator.url, timeout=5)  # the root and 404s are not API calls
    session.get(f"{simulator.url}/nope", timeout=5)
    stats_url = sim_path(simulator, "/_sim/stats")
    stats = session.get(stats_url, timeout=5).json()
    assert started < stats.pop("last_answered") < time.monotonic()
    assert stats == {
        "requests": {"platforms": 1, "accounts": 2, "fields": 1, "insights": 3},
        "total": 7,
        "faults": {},
        "in_flight": 0,
        "max_in_flight": 1,
    }
    reset = session.post(sim_path(simulator, "/_sim/reset"), timeout=5)
    assert (reset.status_code, reset.json()) == (200, {"reset": True})
    assert session.get(stats_url, timeout=5).json() == {
        "requests": ZERO_REQUESTS,
        "total": 0,
        "faults": {},
        "in_flight": 0,
        "max_in_flight": 0,
        "last_answered": None,
    }


def test_stats_count_faults_and_reset_rearms_first_n(
    make_simulator: MakeSimulator, session: requests.Session
) -> None:
    sim = make_simulator(faults=[FaultRule("error", match="ga4"), FaultRule("500", first=1)])
    statuses = [call(session, sim, "accounts", platform="meta_ads").status_code for _ in range(3)]
    assert statuses == [500, 200, 200]
    assert body(session, sim, "accounts", platform="ga4", page=2) == INVALID
    stats = session.get(sim_path(sim, "/_sim/stats"), timeout=5).json()
    assert (stats["requests"]["accounts"], stats["faults"]) == (4, {"500": 1, "error": 1})
    session.post(sim_path(sim, "/_sim/reset"), timeout=5)
    assert call(session, sim, "accounts", platform="meta_ads").status_code == 500
    stats = session.get(sim_path(sim, "/_sim/stats"), timeout=5).json()
    assert (stats["requests"]["accounts"], stats["faults"]) == (1, {"500": 1})


# -- synthetic data ----------------------------------------------------------------------------


def snapshot(sim: Simulator) -> list[bytes]:
    """The raw bytes of every accounts, fields and insights answer of ``sim``."""
    out: list[bytes] = []
    with requests.Session() as s:
        s.headers.update(AUTH)
        for platform in PLATFORMS["platforms"]:
            value = platform["value"]
            fields = ",".join(f["value"] for f in all_pages(s, sim, "fields", platform=value))
            for account in all_pages(s, sim, "accounts", platform=value):
                out.append(json.dumps(account).encode())
                params = {"platform": value, "account": account["id"], "token": account["token"]}
                out.append(call(s, sim, "insights", fields=fields, **params).content)
    return out


def test_synthetic_dataset_is_deterministic_for_a_seed(make_simulator: MakeSimulator) -> None:
    first = snapshot(make_simulator(synthetic_dataset(8, 12, seed=3)))
    again = snapshot(make_simulator(synthetic_dataset(8, 12, seed=3)))
    other = snapshot(make_simulator(synthetic_dataset(8, 12, seed=4)))
    assert len(first) == 3 * 8 * 2
    assert first == again
    assert first != other


@pytest.fixture
def synthetic(make_simulator: MakeSimulator) -> Simulator:
    """A simulator of 8 accounts per platform with 14 ads each."""
    return make_simulator(synthetic_dataset(8, 14, seed=1))


@pytest.mark.parametrize(
    ("platform", "page_sizes"),
    [("meta_ads", [5, 3]), ("ga4", [3, 3, 2]), ("tiktok_insights", [8])],
)
def test_synthetic_accounts_keep_the_real_page_sizes(
    session: requests.Session, synthetic: Simulator, platform: str, page_sizes: list[int]
) -> None:
    pages = [
        body(session, synthetic, "accounts", platform=platform, page=page)
        for page in range(1, len(page_sizes) + 1)
    ]
    assert [len(page["accounts"]) for page in pages] == page_sizes
    totals = {page.get("pagination", {}).get("total") for page in pages}
    assert totals == ({None} if len(page_sizes) == 1 else {len(page_sizes)})


@pytest.mark.parametrize("platform", ["meta_ads", "ga4", "tiktok_insights"])
def test_synthetic_account_names_are_awkward(
    session: requests.Session, synthetic: Simulator, platform: str
) -> None:
    names = [a["name"] for a in all_pages(session, synthetic, "accounts", platform=platform)]
    assert len(names) == 8
    assert max(Counter(names).values()) >= 2
    for needle in (",", '"', "\n"):
        assert any(needle in name for name in names), needle


@pytest.mark.parametrize(
    ("platform", "name_key"),
    [("meta_ads", "ad_name"), ("ga4", "adName"), ("tiktok_insights", "ad_name")],
)
def test_synthetic_ads_include_zero_clicks_and_awkward_names(
    session: requests.Session, synthetic: Simulator, platform: str, name_key: str
) -> None:
    account = all_pages(session, synthetic, "accounts", platform=platform)[0]
    params = {"platform": platform, "account": account["id"], "token": account["token"]}
    rows = body(session, synthetic, "insights", fields=f"clicks,{name_key}", **params)["insights"]
    assert len(rows) == 14
    assert [row["id"] for row in rows if row["clicks"] == 0] == [7, 14]
    assert any("," in row[name_key] and '"' in row[name_key] for row in rows)


@pytest.mark.parametrize("platform", ["meta_ads", "ga4", "tiktok_insights"])
def test_synthetic_insights_paginate_into_every_ad(
    make_simulator: MakeSimulator, session: requests.Session, platform: str
) -> None:
    paged = make_simulator(synthetic_dataset(2, 10, seed=5, insights_page_size=3))
    whole = make_simulator(synthetic_dataset(2, 10, seed=5))
    account = all_pages(session, paged, "accounts", platform=platform)[1]
    params = {"platform": platform, "account": "2", "token": account["token"]}
    params["fields"] = "clicks,impressions"
    pages = [body(session, paged, "insights", page=page, **params) for page in range(1, 6)]
    assert [len(p["insights"]) for p in pages] == [3, 3, 3, 1, 0]
    assert [p["pagination"] for p in pages] == [{"current": n, "total": 4} for n in range(1, 6)]
    rows = [row for p in pages for row in p["insights"]]
    assert [row["id"] for row in rows] == list(range(1, 11))
    assert rows == body(session, whole, "insights", **params)["insights"]
    assert "pagination" not in body(session, whole, "insights", **params)


# -- the command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_simulator() -> Iterator[str]:
    """``stract-reports simulator`` in a subprocess; yields its API root."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    command = [CLI, "simulator", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            deadline = time.monotonic() + 15
            while True:
                assert proc.poll() is None, "the simulator exited early"
                assert time.monotonic() < deadline, "the simulator never answered"
                try:
                    requests.get(url, timeout=1).close()
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.parametrize(
    ("authorization", "status", "expected"),
    [
        (f"Bearer {DEFAULT_TOKEN}", 200, PLATFORMS),
        ("Bearer wrong", 401, {"error": "invalid authorization token"}),
    ],
)
def test_cli_simulator_serves_the_real_platforms(
    cli_simulator: str, authorization: str, status: int, expected: dict
) -> None:
    with requests.get(
        f"{cli_simulator}/platforms", headers={"Authorization": authorization}, timeout=5
    ) as response:
        assert (response.status_code, response.json()) == (status, expected)


def test_cli_simulator_rejects_a_bad_fault_plan() -> None:
    result = subprocess.run(
        [CLI, "simulator", "--port", str(free_port()), "--faults", "boom"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown fault kind 'boom'" in result.stderr
