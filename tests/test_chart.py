"""The summary bar chart: well-formed SVG, exact bar lengths and tooltips, escaped text, and
nothing a strict CSP would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from stract_reports.render.chart import PLOT, render_chart_svg
from stract_reports.reports.slice_options import parse_slice
from stract_reports.reports.slicing import slice_report
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from tables import general, general_summary, platform

SVG = "{http://www.w3.org/2000/svg}"


def summary(query: list[tuple[str, str]] | None = None) -> Table:
    """``/geral/resumo`` of the real dataset, sliced by ``query``."""
    table, _ = slice_report(general(), parse_slice(query or []), summary=general_summary())
    return table


def bars(svg: str) -> list[tuple[float, str]]:
    """(width in percent of the chart's, tooltip) of each bar, top to bottom."""
    root = ET.fromstring(svg)
    return [
        (float(rect.get("width", "").removesuffix("%")), rect.findtext(f"{SVG}title") or "")
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]


def test_general_summary_chart_draws_spend_and_clicks_per_platform() -> None:
    svg = render_chart_svg(summary())
    assert svg is not None

    drawn = bars(svg)
    assert [tip for _, tip in drawn] == [
        "Facebook Ads: Spend 190,803.63",
        "Facebook Ads: Clicks 250,977",
        "Google Analytics: Spend 56,484.31",
        "Google Analytics: Clicks 70,365",
        "TikTok: Spend 45,602.28",
        "TikTok: Clicks 41,717",
    ]
    spend = [Decimal("190803.63"), Decimal("56484.31"), Decimal("45602.28")]
    clicks = [250977, 70365, 41717]
    assert [width for width, _ in drawn[0::2]] == [
        round(float(s / spend[0]) * PLOT, 2) for s in spend
    ]
    assert [width for width, _ in drawn[1::2]] == [round(c / clicks[0] * PLOT, 2) for c in clicks]
    assert drawn[0][0] == PLOT == 72


def test_text_keeps_its_size_at_any_width() -> None:
    """No viewBox: the chart is as wide as its box and its text is in CSS pixels, so a phone
    does not shrink it (a 720-unit drawing at 390 px printed 12 px text at about 6 px)."""
    svg = render_chart_svg(summary())
    assert svg is not None
    root = ET.fromstring(svg)

    assert root.get("viewBox") is None and root.get("width") == "100%"
    assert root.get("height") == str(30 + 3 * 58)
    sizes = {
        int(el.get("font-size") or root.get("font-size") or 0) for el in root.iter(f"{SVG}text")
    }
    assert sizes == {12, 13}
    values = [el for el in root.iter(f"{SVG}text") if el.get("dx") == "6"]
    assert [(el.get("x"), el.text) for el in values[:2]] == [
        ("72.0%", "190,803.63"),
        ("72.0%", "250,977"),
    ]


def test_chart_is_csp_safe_and_accessible() -> None:
    svg = render_chart_svg(summary())
    assert svg is not None
    root = ET.fromstring(svg)

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "Spend and Clicks per row of All platforms: summary"
    assert "style=" not in svg and "<script" not in svg and "href" not in svg
    assert all(not name.startswith("on") for el in root.iter() for name in el.attrib)


def test_account_summary_labels_rows_by_account() -> None:
    ads, meta = platform("meta_ads")
    table, _ = slice_report(ads, parse_slice([]), summary=meta)
    svg = render_chart_svg(table)
    assert svg is not None

    tips = [tip for _, tip in bars(svg)]
    assert tips[:2] == ["Jorginho: Spend 6,915.93", "Jorginho: Clicks 886"]
    assert len(tips) == 2 * 11


def test_grouped_summary_names_the_empty_group() -> None:
    svg = render_chart_svg(summary([("_by", "Objective")]))
    assert svg is not None

    tips = [tip for _, tip in bars(svg)]
    assert tips[-1] == "(empty): Clicks 112,082"  # GA4's 70,365 and TikTok's 41,717


def test_labels_are_escaped_and_long_ones_clipped() -> None:
    name = '<script>alert("x")</script> & a very long account name indeed'
    table = Table.of_rows(
        ReportSpec("x", summary=True),
        "T & <b>",
        ["Account Name", "Spend"],
        [False, True],
        [[name, 5]],
    )
    svg = render_chart_svg(table)
    assert svg is not None
    root = ET.fromstring(svg)

    assert "<script>" not in svg and "<b>" not in svg
    assert bars(svg) == [(PLOT, f"{name}: Spend 5.00")]
    labels = [el for el in root.iter(f"{SVG}text") if el.findtext(f"{SVG}title") == name]
    assert [el.text for el in labels] == ['<script>alert("x")</script> & a very lo…']


def test_only_the_first_rows_are_charted_and_the_title_says_so() -> None:
    rows = [[f"account {i}", i] for i in range(40)]
    svg = render_chart_svg(
        Table.of_rows(
            ReportSpec("x", summary=True), "Many", ["Account Name", "Clicks"], [False, True], rows
        )
    )
    assert svg is not None

    assert len(bars(svg)) == 30
    assert ET.fromstring(svg).findtext(f"{SVG}title") == (
        "Clicks per row of Many (first 30 of 40 rows)"
    )
    assert bars(svg)[0] == (0.0, "account 0: Clicks 0")


def test_no_chart_without_spend_or_clicks_or_rows() -> None:
    no_metrics = Table.of_rows(
        ReportSpec("x", summary=True),
        "",
        ["Account Name", "Impressions"],
        [False, True],
        [["a", 1]],
    )
    text_spend = Table.of_rows(
        ReportSpec("x", summary=True), "", ["Account Name", "Spend"], [False, False], [["a", "n/a"]]
    )

    assert render_chart_svg(no_metrics) is None
    assert render_chart_svg(text_spend) is None
    assert render_chart_svg(summary([("Country", "XX")])) is None
