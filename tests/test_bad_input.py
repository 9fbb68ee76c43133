"""Bad input is a 400 or a 502 that says what was wrong, never a 500: filter values out of the
number bounds, numbers at the bounds in every display format, worksheet names, ``//geral``,
digits that are not ASCII, and platform values that would collide with our own paths.

Against the hostile upstream (``tests/hostile.py``) over loopback HTTP, and a real ``serve``
where the WSGI server matters.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask import Flask
from openpyxl import load_workbook

from hostile import Call, HostileUpstream, Reply, json_reply
from served import serve
from stract_reports.reports.numbers import looks_numeric, parse_number
from stract_reports.urls import RESERVED_SEGMENTS
from support import golden, serving

EVERY_FORMAT = ["csv", "json", "html", "xlsx", "tsv", "ndjson"]


def _problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    return document


def _rows(call: Call, change: Callable[[dict[str, Any]], None]) -> Reply:
    """The honest insights page with ``change`` applied to each of its rows."""
    body = json.loads(json.dumps(call.honest))
    for row in body["insights"]:
        change(row)
    return json_reply(body)


# -- filters out of the number bounds: 400 before anything is read ------------------------------


@pytest.mark.parametrize("value", ["9e99", "9" * 3900, "1e-21", "1" * 31])
@pytest.mark.parametrize("path", ["/geral", "/geral.html", "/meta_ads/resumo.json"])
def test_a_filter_value_out_of_the_number_bounds_is_400_before_any_upstream_call(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    value: str,
    path: str,
) -> None:
    upstream = make_hostile()
    with serving(make_app(upstream)) as base:
        response = requests.get(f"{base}{path}", params={"Spend": value}, timeout=30)

    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    text = response.text if path.endswith(".html") else response.json()["detail"]
    assert "filter Spend" in text and "out of range" in text
    assert upstream.total() == 0


@pytest.mark.parametrize(
    ("name", "value"), [("Spend__gt", "9e99"), ("Spend__in", "1,9e99"), ("Spend__not", "1e-21")]
)
def test_an_operator_filter_value_out_of_the_number_bounds_is_400_too(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    name: str,
    value: str,
) -> None:
    upstream = make_hostile()
    with serving(make_app(upstream)) as base:
        response = requests.get(f"{base}/geral.json", params={name: value}, timeout=30)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"filter {name}: ")
    assert "out of range" in response.json()["detail"]
    assert upstream.total() == 0


def test_a_filter_value_at_the_bounds_is_compared_as_usual(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    upstream = make_hostile()
    with serving(make_app(upstream)) as base:
        response = requests.get(f"{base}/geral.json", params={"Spend": "1e20"}, timeout=30)

    assert response.status_code == 200
    assert response.json()["row_count"] == 0


# -- numbers at the documented bounds, in every format -------------------------------------------


@pytest.mark.parametrize("fmt", EVERY_FORMAT)
def test_spend_1e20_over_clicks_1e_20_is_shown_in_every_format(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask], fmt: str
) -> None:
    def extreme(row: dict[str, Any]) -> None:
        row.update(spend="1e20", clicks="1e-20")

    upstream = make_hostile(
        lambda call: _rows(call, extreme) if call.endpoint == "insights" else None
    )
    with serving(make_app(upstream)) as base:
        response = requests.get(f"{base}/meta_ads/resumo.{fmt}", timeout=30)

    assert response.status_code == 200, response.text[:300]
    cost_per_click = Decimal(10) ** 40  # the sum of Spend over the sum of Clicks, per account
    if fmt == "html":
        assert f"{cost_per_click:,.2f}" in response.text
    elif fmt == "json":
        rows = json.loads(response.content, parse_float=Decimal)["rows"]
        assert {row["Cost Per Click"] for row in rows if row["Clicks"]} == {cost_per_click}
    elif fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        header = [cell.value for cell in sheet[1]]
        column = header.index("Cost Per Click")
        values = {row[column] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert float(cost_per_click) in values


# -- worksheet names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sheet"), [("'meta", "meta"), ("meta'", "meta"), ("History", "report")]
)
def test_a_platform_value_excel_refuses_as_a_sheet_name_still_makes_a_workbook(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    value: str,
    sheet: str,
) -> None:
    def renamed(call: Call) -> Reply | None:
        if call.endpoint == "platforms":
            platforms = [dict(p) for p in call.honest["platforms"]]
            platforms[0]["value"] = value
            return json_reply({"platforms": platforms})
        if call.query.get("platform") == value:
            return json_reply(_honest_for(upstream, call, "meta_ads"))
        return None

    upstream = make_hostile(renamed)
    with serving(make_app(upstream)) as base:
        response = requests.get(f"{base}/{value}.xlsx", timeout=30)

    assert response.status_code == 200, response.text[:300]
    assert load_workbook(io.BytesIO(response.content)).worksheets[0].title == sheet


def _honest_for(upstream: HostileUpstream, call: Call, platform: str) -> Any:
    from stract_reports.simulator.server import _respond

    return _respond(upstream.dataset, call.endpoint, {**call.query, "platform": platform})


# -- paths: //geral ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["//geral", "//geral.json", "///geral/resumo", "//healthz"])
def test_a_path_starting_with_an_empty_segment_is_404_in_the_app(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask], path: str
) -> None:
    upstream = make_hostile()
    response = make_app(upstream).test_client().get(environ_overrides={"PATH_INFO": path})

    assert response.status_code == 404
    assert response.get_json()["detail"].startswith("no report or page at this path")
    assert upstream.total() == 0


@pytest.mark.serve
def test_double_slash_geral_is_404_from_the_real_server(
    make_hostile: Callable[..., HostileUpstream],
) -> None:
    upstream = make_hostile()
    with serve(upstream.url) as served:
        assert _problem(requests.get(f"{served.base}//geral", timeout=30), 404)
        assert _problem(requests.get(f"{served.base}//geral.json", timeout=30), 404)
        assert upstream.total() == 0
        response = requests.get(f"{served.base}/geral", timeout=30)
        assert response.content == golden("geral")


# -- only ASCII digits are numbers ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["١٢٣", "۱۲۳", "१२३", "１２３", "12٣", "1.٥"])
def test_only_ascii_digits_make_a_number(text: str) -> None:
    assert parse_number(text) is None
    assert not looks_numeric(text)


def test_arabic_indic_digits_stay_text_and_the_report_says_why(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    def tamper(call: Call) -> Reply | None:
        if call.endpoint != "insights" or call.query["account"] != "1":
            return None
        return _rows(call, lambda row: row.update(clicks="١٢٣"))

    upstream = make_hostile(tamper)
    with serving(make_app(upstream)) as base:
        report = requests.get(f"{base}/meta_ads.json", timeout=30).json()
        filtered = requests.get(f"{base}/meta_ads.json", params={"Clicks": "١٢٣"}, timeout=30)

    clicks = [row["Clicks"] for row in report["rows"] if row["Account Name"] == "Jorginho"]
    assert clicks and set(clicks) == {"١٢٣"}  # as the upstream wrote it, not 123
    assert any("Clicks" in warning for warning in report["warnings"])
    assert filtered.status_code == 200
    assert filtered.json()["row_count"] == len(clicks)  # compared as text


# -- platform values that would be our own paths -------------------------------------------------


@pytest.mark.parametrize("value", ["", " ", "geral", "resumo", "healthz", "a.b", "a/b", ".."])
def test_a_platform_value_that_collides_with_our_paths_is_refused_naming_it(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask], value: str
) -> None:
    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "platforms":
            platforms = [dict(p) for p in call.honest["platforms"]]
            platforms[1]["value"] = value  # Google Analytics
            return json_reply({"platforms": platforms})
        if call.query.get("platform") == value:
            return json_reply(_honest_for(upstream, call, "ga4"))
        return None

    upstream = make_hostile(tamper)
    with serving(make_app(upstream)) as base:
        general = requests.get(f"{base}/geral", timeout=30)
        index = requests.get(f"{base}/", timeout=30).json()
        other = requests.get(f"{base}/meta_ads", timeout=30)

    problem = _problem(general, 502)
    assert problem["error"] == "invalid upstream payload"
    assert problem["detail"].startswith(f"platform list: the platform value {value!r} cannot")
    assert index["platforms_error"] == problem["detail"]
    assert [link["report"] for link in index["reports"]] == ["geral", "geral/resumo"]
    assert other.status_code == 200 and other.content == golden("meta_ads")


def test_every_first_path_segment_of_ours_is_reserved(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    app = make_app(make_hostile())
    first = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    static = {segment for segment in first if segment and "<" not in segment}
    # A segment with a dot (robots.txt) is refused as a platform value by its dot already; /v/
    # holds saved views, whose ids are 43 characters: a platform "v" keeps /v and /v/resumo.
    ours = {segment for segment in static if "." not in segment} - {"v"}
    assert ours <= RESERVED_SEGMENTS
    assert "robots.txt" in static
