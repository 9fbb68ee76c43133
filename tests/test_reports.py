"""The five contract reports on the real captured dataset: exact bytes, exact sums."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from stract_reports.simulator import Simulator, real_dataset
from support import GOLDEN, REPORTS, golden


def rows(body: bytes) -> list[dict[str, str]]:
    """Parse a CSV body into dicts by header."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


@pytest.mark.parametrize("report", REPORTS)
def test_report_matches_golden_bytes(client: FlaskClient, report: str) -> None:
    response = client.get(f"/{report}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.data == golden(report)


@pytest.mark.parametrize("report", REPORTS)
def test_csv_suffix_gives_the_same_bytes(client: FlaskClient, report: str) -> None:
    assert client.get(f"/{report}.csv").data == client.get(f"/{report}").data


def test_golden_files_use_crlf_and_a_header_row() -> None:
    text = (GOLDEN / "geral.csv").read_bytes()
    assert text.startswith(
        b"Platform,Account Name,Clicks,Impressions,Spend,Cost Per Click,Clickthrough Rate,"
        b"Ad Name,Status,Objective,Country,Unique CTR\r\n"
    )
    assert text.count(b"\r\n") == 67 and b"\n" not in text.replace(b"\r\n", b"")


def test_general_summary_equals_the_captured_totals(client: FlaskClient) -> None:
    summary = {row["Platform"]: row for row in rows(client.get("/geral/resumo").data)}
    assert list(summary) == ["Facebook Ads", "Google Analytics", "TikTok"]
    expected = {
        "Facebook Ads": ("250977", "206806", "190803.63"),
        "Google Analytics": ("70365", "86875", "56484.31"),
        "TikTok": ("41717", "53125", "45602.28"),
    }
    for platform, (clicks, impressions, spend) in expected.items():
        row = summary[platform]
        assert (row["Clicks"], row["Impressions"], row["Spend"]) == (clicks, impressions, spend)
        assert row["Account Name"] == row["Ad Name"] == row["Status"] == ""


@pytest.mark.parametrize("platform", ["meta_ads", "ga4", "tiktok_insights"])
def test_account_summary_sums_equal_sums_of_ad_rows(client: FlaskClient, platform: str) -> None:
    ads = rows(client.get(f"/{platform}").data)
    summary = rows(client.get(f"/{platform}/resumo").data)
    sim_accounts = real_dataset().platform(platform).accounts  # type: ignore[union-attr]
    assert [r["Account Name"] for r in summary] == [a.name for a in sim_accounts]
    assert len(ads) == sum(len(a.insights or []) for a in sim_accounts)
    for column in ("Clicks", "Impressions", "Spend"):
        assert sum(Decimal(r[column]) for r in summary) == sum(Decimal(r[column]) for r in ads)


def test_ga4_cost_per_click_is_spend_over_clicks_in_general(client: FlaskClient) -> None:
    ga4 = [r for r in rows(client.get("/geral").data) if r["Platform"] == "Google Analytics"]
    assert len(ga4) == 14
    first = ga4[0]
    assert (first["Spend"], first["Clicks"], first["Cost Per Click"]) == (
        "1312.86",
        "857",
        "1.531925",
    )
    for row in ga4:
        expected = Decimal(row["Spend"]) / Decimal(row["Clicks"])
        assert abs(Decimal(row["Cost Per Click"]) - expected) <= Decimal("0.0000005")
        assert row["Clickthrough Rate"] == ""  # GA4 serves no CTR and none is invented


def test_summary_ratios_are_recomputed_from_summed_components(client: FlaskClient) -> None:
    meta = rows(client.get("/geral/resumo").data)[0]
    assert meta["Cost Per Click"] == "0.760243"  # 190803.63 / 250977
    assert meta["Clickthrough Rate"] == "1.213587"  # 250977 / 206806
    assert meta["Unique CTR"] == ""  # no components to recompute it from


def test_a_ratio_is_recomputed_wherever_its_components_exist(client: FlaskClient) -> None:
    # GA4 and TikTok serve no Clickthrough Rate, but have Clicks and Impressions: every view
    # that groups their ads recomputes it, the same way.
    summary = {r["Platform"]: r for r in rows(client.get("/geral/resumo").data)}
    assert summary["Google Analytics"]["Clickthrough Rate"] == "0.809957"  # 70365 / 86875
    assert summary["TikTok"]["Clickthrough Rate"] == "0.785261"  # 41717 / 53125
    assert summary["Facebook Ads"]["Unique CTR"] == ""  # no components anywhere
    assert summary["TikTok"]["Unique CTR"] == ""
    by_platform = rows(client.get("/geral/resumo?_by=Platform").data)
    assert {r["Platform"]: r["Clickthrough Rate"] for r in by_platform} == {
        name: row["Clickthrough Rate"] for name, row in summary.items()
    }
    tiktok = rows(client.get("/geral/resumo?Platform=TikTok&_by=Country").data)
    ads = [r for r in rows(client.get("/geral?Platform=TikTok").data)]
    for group in tiktok:
        mine = [a for a in ads if a["Country"] == group["Country"]]
        clicks = sum(Decimal(a["Clicks"]) for a in mine)
        impressions = sum(Decimal(a["Impressions"]) for a in mine)
        expected = (clicks / impressions).quantize(Decimal("0.000001"))
        assert Decimal(group["Clickthrough Rate"]) == expected
    # The platform's own report has no such column: nothing is invented there.
    assert "Clickthrough Rate" not in rows(client.get("/ga4/resumo").data)[0]


def test_ratios_sum_switch_sums_every_numeric_column(client: FlaskClient) -> None:
    meta = rows(client.get("/geral/resumo?ratios=sum").data)[0]
    assert (meta["Cost Per Click"], meta["Clickthrough Rate"], meta["Unique CTR"]) == (
        "21.079",
        "19.004",
        "22.659",
    )
    assert meta["Clicks"] == "250977"


@pytest.mark.parametrize("path", ["/geral/x", "/meta_ads/resumo/x", "/meta_ads/detalhe"])
def test_paths_that_are_no_report_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["status"] == 404  # type: ignore[index]


def test_bad_ratios_option_is_400(client: FlaskClient) -> None:
    assert client.get("/geral/resumo?ratios=average").status_code == 400


@pytest.mark.parametrize("report", ["geral", "geral/resumo"])
def test_general_reports_read_each_upstream_resource_once(
    client: FlaskClient, simulator: Simulator, report: str
) -> None:
    client.get(f"/{report}")
    # platforms 1; accounts 3 + 2 + 1 pages; fields 2 + 1 + 1 pages; insights 11 + 6 + 2 accounts
    assert simulator.stats()["requests"] == {
        "platforms": 1,
        "accounts": 6,
        "fields": 4,
        "insights": 19,
    }


def test_index_names_the_owner_and_links_every_report(client: FlaskClient) -> None:
    body = client.get("/", headers={"Accept": "application/json"}).json
    assert list(body)[:3] == ["name", "email", "linkedin"]  # type: ignore[arg-type]
    names = [r["report"] for r in body["reports"]]  # type: ignore[index]
    assert names == REPORTS
    assert body["reports"][3]["csv"] == "/meta_ads/resumo.csv"  # type: ignore[index]
