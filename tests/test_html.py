"""HTML pages: the report tables, the index, error pages, escaping and security headers."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from datasets import one_account
from stract_reports.formats import HTML_PAGE_SIZE
from stract_reports.render.chart import render_chart_svg
from stract_reports.render.html import render_html, render_index_html
from stract_reports.renderers import plan_rendering, render
from stract_reports.reports.options import RatioMode
from stract_reports.reports.slice_options import parse_slice
from stract_reports.reports.slicing import slice_report
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from stract_reports.simulator import (
    DEFAULT_TOKEN,
    FaultRule,
    Simulator,
)
from stract_reports.urls import next_page_url, page_links
from support import GOLDEN, REPORTS, golden
from tables import general, general_summary, platform

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22,})'")
SCRIPT = "<script>alert(1)</script>"
HOSTILE_ADS = ['"><img src=x onerror=alert(1)>', "</td></tr></table><script>alert(2)</script>"]


class TableParser(HTMLParser):
    """The header labels, each body row's cells as (text, class) pairs, the raw values of the
    body rows (``data-value``, else the text), and the totals row, of a page's table."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[tuple[str, str]] = []
        self.rows: list[list[tuple[str, str]]] = []
        self.raw: list[list[str]] = []
        self.totals: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self._class = ""
        self._value: str | None = None
        self._part = "thead"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._part == "tbody":
            self.rows.append([])
            self.raw.append([])
        elif tag in ("th", "td"):
            found = dict(attrs)
            self._cell, self._class = [], found.get("class") or ""
            self._value = found.get("data-value")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            cell = ("".join(self._cell), self._class)
            if self._part == "tbody":
                self.rows[-1].append(cell)
                self.raw[-1].append(cell[0] if self._value is None else self._value)
            elif self._part == "tfoot":
                self.totals.append(cell)
            else:
                self.headers.append(cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_table(page: str) -> TableParser:
    """The table of ``page``, parsed."""
    parser = TableParser()
    parser.feed(page)
    parser.close()
    return parser


def golden_rows(report: str) -> list[list[str]]:
    """The golden CSV of ``report``, header first."""
    text = GOLDEN.joinpath(f"{report.replace('/', '-')}.csv").read_text("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def csp_nonce(response: TestResponse) -> str:
    """The nonce of the response's CSP, which must name the same one for style and script."""
    nonces = NONCE.findall(response.headers["Content-Security-Policy"])
    assert len(nonces) == 2 and nonces[0] == nonces[1]
    return nonces[0]


@pytest.mark.parametrize("report", REPORTS)
def test_html_table_holds_exactly_the_csv_cells(client: FlaskClient, report: str) -> None:
    golden = golden_rows(report)
    response = client.get(f"/{report}.html")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    table = parse_table(response.get_data(as_text=True))
    labels = [label for label, _ in table.headers]
    # Summaries hide the columns empty in every row; the others are all there, in order.
    shown = [golden[0].index(label) for label in labels]
    assert shown == sorted(shown)
    hidden = [label for i, label in enumerate(golden[0]) if i not in shown]
    assert all(row[golden[0].index(label)] == "" for row in golden[1:] for label in hidden)
    assert hidden == [] if "resumo" not in report else hidden != []
    assert table.raw == [[row[i] for i in shown] for row in golden[1:]]


def test_general_page_has_66_rows_and_says_so(client: FlaskClient) -> None:
    page = client.get("/geral.html").get_data(as_text=True)

    assert len(parse_table(page).rows) == 66
    assert page.count("<tr>") == 68  # the header row, 66 ads and the totals
    assert '<span id="row-count">66 rows</span>' in page


def test_numeric_columns_are_right_aligned_and_text_columns_are_not(client: FlaskClient) -> None:
    table = parse_table(client.get("/geral.html").get_data(as_text=True))
    numeric = {
        "Clicks",
        "Impressions",
        "Spend",
        "Cost Per Click",
        "Clickthrough Rate",
        "Unique CTR",
    }

    assert [cls for _, cls in table.headers] == [
        "num" if label in numeric else "" for label, _ in table.headers
    ]
    for row, raw in zip(table.rows, table.raw, strict=True):
        assert [cls for _, cls in row] == [cls for _, cls in table.headers]
        for (text, cls), value, (label, _) in zip(row, raw, table.headers, strict=True):
            if cls == "num" and text:
                Decimal(value)  # the raw value: a plain number, as format_number prints it
            if label == "Unique CTR" and row[0][0] != "Facebook Ads":
                assert text == ""  # empty cells are blank, not 0 or "None"


def test_page_shows_generated_at_in_utc_and_links_every_variant(client: FlaskClient) -> None:
    page = client.get("/meta_ads/resumo.html").get_data(as_text=True)

    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', page)
    hrefs = set(re.findall(r'href="([^"]*)"', page))
    assert {
        "/meta_ads/resumo.csv",
        "/meta_ads/resumo.json",
        "/meta_ads/resumo.csv?download=1",
        "/meta_ads/resumo.json?download=1",
        "/meta_ads/resumo.csv?excel=br&amp;download=1",
        "/",
        "/geral.html",
        "/geral/resumo.html",
        "/meta_ads.html",
        "/meta_ads/resumo.html",
    } <= hrefs


def test_page_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    page = client.get("/geral.html").get_data(as_text=True)

    assert "http://" not in page and "https://" not in page
    assert " src=" not in page
    assert "<link" not in page
    assert page.count("<script") == 0 and page.count("<style") == 1


def test_links_and_download_variants_serve_the_same_table(client: FlaskClient) -> None:
    download = client.get("/geral/resumo.csv?download=1")

    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.data == golden("geral/resumo")


@pytest.fixture
def hostile_client(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> FlaskClient:
    dataset = one_account(
        SCRIPT,
        [{"name": HOSTILE_ADS[0], "clicks": 3}, {"name": HOSTILE_ADS[1], "clicks": 1}],
        labels=[("Ad Name", "name"), ("<b>Clicks</b>", "clicks")],
        text="Ads & <Co>",
    )
    return make_app(make_simulator(dataset)).test_client()


@pytest.mark.parametrize(
    ("report", "accounts", "ads"),
    [
        ("hostile", [SCRIPT, SCRIPT], HOSTILE_ADS),
        ("geral", [SCRIPT, SCRIPT], HOSTILE_ADS),
        ("hostile/resumo", [SCRIPT], [""]),
        ("geral/resumo", [""], [""]),
    ],
)
def test_names_and_labels_are_escaped_and_show_as_text(
    hostile_client: FlaskClient, report: str, accounts: list[str], ads: list[str]
) -> None:
    page = hostile_client.get(f"/{report}.html").get_data(as_text=True)
    table = parse_table(page)

    assert page.count("<script") == 0  # pages run no code at all
    assert "<img" not in page and "<b>" not in page and "<Co>" not in page
    labels = ["Platform", "Account Name", "Ad Name", "<b>Clicks</b>"]
    if report == "geral/resumo":  # summaries hide the columns empty in every row
        labels.remove("Account Name")
        accounts = []
    if "resumo" in report:
        labels.remove("Ad Name")
        ads = []
    assert [label for label, _ in table.headers] == labels
    assert [row[0][0] for row in table.rows] == ["Ads & <Co>"] * len(table.rows)
    assert [row[1][0] for row in table.rows if accounts] == accounts
    assert [row[2][0] for row in table.rows if ads] == ads
    if SCRIPT in accounts:
        assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page


def test_every_response_forbids_sniffing(client: FlaskClient) -> None:
    for path in ("/", "/geral", "/geral.json", "/geral.html", "/nope.html", "/nope", "/healthz"):
        assert client.get(path).headers["X-Content-Type-Options"] == "nosniff", path


def test_html_pages_carry_a_strict_csp_whose_nonce_marks_the_inline_code(
    client: FlaskClient,
) -> None:
    response = client.get("/geral.html")
    nonce = csp_nonce(response)
    page = response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]

    assert "<script" not in page
    assert f'<style nonce="{nonce}">' in page
    for directive in (
        "default-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",  # the filter form, a GET to this very site
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_each_page_gets_a_fresh_nonce(client: FlaskClient) -> None:
    nonces = {csp_nonce(client.get("/geral/resumo.html")) for _ in range(5)}

    assert len(nonces) == 5


@pytest.mark.parametrize("path", ["/geral", "/geral.csv", "/geral.json", "/healthz"])
def test_non_html_responses_need_no_csp(client: FlaskClient, path: str) -> None:
    assert "Content-Security-Policy" not in client.get(path).headers


def test_rendering_without_a_nonce_leaves_no_nonce_attribute() -> None:
    table = Table.of_rows(
        ReportSpec(None, summary=True), "One", ["Platform", "Clicks"], [False, True], [["X", 1]]
    )

    links = page_links(table.spec, table.columns, (), None, "recompute")
    page = render_html(table, datetime(2025, 2, 1, 12, 30, tzinfo=UTC), links)

    assert "nonce" not in page
    assert '<span id="row-count">1 row</span>' in page
    assert '<time datetime="2025-02-01T12:30:00Z">' in page


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("application/json;q=0.5, text/html", True),
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0.5, application/json", False),
    ],
)
def test_index_is_html_only_for_clients_that_prefer_it(
    client: FlaskClient, accept: str | None, html: bool
) -> None:
    response = client.get("/", headers={"Accept": accept} if accept else {})

    assert response.status_code == 200
    assert response.mimetype == ("text/html" if html else "application/json")
    assert "Accept" in response.vary
    if not html:
        assert set(response.get_json()) >= {"name", "email", "linkedin", "reports"}


def test_index_page_names_the_owner_and_links_every_report_in_every_format(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(
        simulator,
        owner_name="Ana <Dev> & Co",
        owner_email="ana@example.com",
        owner_linkedin="https://www.linkedin.com/in/ana",
    )
    response = app.test_client().get("/", headers={"Accept": BROWSER_ACCEPT})
    page = response.get_data(as_text=True)

    assert "Ana &lt;Dev&gt; &amp; Co" in page
    assert 'href="mailto:ana@example.com"' in page
    assert 'href="https://www.linkedin.com/in/ana"' in page
    hrefs = set(re.findall(r'href="([^"]*)"', page))
    assert {f"/{report}.{fmt}" for report in REPORTS for fmt in ("html", "csv", "json")} <= hrefs
    nonce = csp_nonce(response)
    assert f'<style nonce="{nonce}">' in page


def test_index_page_shows_a_linkedin_that_is_no_web_address_as_inert_text(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(simulator, owner_linkedin="javascript:alert(1)")
    page = app.test_client().get("/", headers={"Accept": "text/html"}).get_data(as_text=True)

    assert 'href="javascript:' not in page
    assert "javascript:alert(1)" in page


def test_failed_html_report_is_an_html_page_with_the_error_shape(client: FlaskClient) -> None:
    response = client.get("/nope.html")
    page = response.get_data(as_text=True)
    error = client.get("/nope.json").get_json()

    assert response.status_code == 404 == error["status"]
    assert response.mimetype == "text/html"
    assert f'<dd id="error">{error["error"]}</dd>' in page
    assert '<dd id="detail">no platform &#39;nope&#39;; valid platforms:' in page
    assert '<dd id="status">404</dd>' in page
    assert "Traceback" not in page
    assert csp_nonce(response) in page


@pytest.mark.parametrize("path", ["/nope", "/nope.csv", "/nope.json", "/geral/x/y"])
def test_other_failures_keep_the_json_error_shape(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"error", "detail", "status"}


def test_bad_option_on_an_html_report_is_an_html_400(client: FlaskClient) -> None:
    response = client.get("/geral.html?excel=us")

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "the Excel presets are excel=br and excel=1" in response.get_data(as_text=True)


def test_upstream_failure_on_an_html_report_keeps_its_status_and_hides_tokens(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    simulator.faults = [FaultRule("500", match="/insights")]
    response = make_app(simulator, retries=0).test_client().get("/ga4/resumo.html")
    page = response.get_data(as_text=True)

    assert response.status_code == 502
    assert response.mimetype == "text/html"
    assert '<dd id="status">502</dd>' in page
    tokens = [DEFAULT_TOKEN] + [a.token for p in simulator.dataset.platforms for a in p.accounts]
    assert not [token for token in tokens if token in page]
    assert "Traceback" not in page


# Pure rendering of sliced tables: what the views hand the renderer (query, page, ratio mode).

MOMENT = datetime(2025, 2, 1, 12, 30, tzinfo=UTC)


def sliced_page(
    report: str,
    query: list[tuple[str, str]],
    *,
    ratios: RatioMode = "recompute",
    page_size: int | None = HTML_PAGE_SIZE,
) -> str:
    """``report`` of the real dataset sliced by ``query`` and rendered as its HTML page."""
    base, _, rest = report.partition("/")
    ads, summary = (general(), general_summary()) if base == "geral" else platform(base)
    table, page = slice_report(
        ads,
        parse_slice(query),
        summary=summary if rest else None,
        ratios=ratios,
        page_size=page_size,
        totals=not rest,
    )
    rendering = plan_rendering(table, "html", MOMENT, query=query, page=page, ratios=ratios)
    return render(table, "html", rendering).decode()


def hrefs(page: str) -> list[str]:
    """Every link target of a page, unescaped."""
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', page)]


def test_numbers_are_formatted_by_kind_and_keep_their_raw_value() -> None:
    table = parse_table(sliced_page("geral", []))
    first = dict(zip([label for label, _ in table.headers], table.rows[0], strict=True))
    raw = dict(zip([label for label, _ in table.headers], table.raw[0], strict=True))

    assert {label: text for label, (text, _) in first.items()} == {
        "Platform": "Facebook Ads",
        "Account Name": "Jorginho",
        "Clicks": "886",
        "Impressions": "2,777",
        "Spend": "6,915.93",
        "Cost Per Click": "0.34",
        "Clickthrough Rate": "38.60%",
        "Ad Name": "Anúncio 9",
        "Status": "PAUSED",
        "Objective": "Conversion",
        "Country": "BR",
        "Unique CTR": "49.20%",
    }
    assert raw == dict(zip(golden_rows("geral")[0], golden_rows("geral")[1], strict=True))
    second = dict(zip([label for label, _ in table.headers], table.rows[1], strict=True))
    assert (second["Spend"][0], second["Clicks"][0]) == ("19.70", "8,829")


def test_ad_pages_end_with_a_totals_row_of_every_selected_ad() -> None:
    table = parse_table(sliced_page("geral", [("_size", "5")]))
    tiktok = parse_table(sliced_page("geral", [("Platform", "TikTok")]))

    assert len(table.rows) == 5
    assert [text for text, _ in table.totals] == [
        "Total of 66 rows",
        "",
        "363,059",
        "346,806",
        "292,890.22",
        "0.81",  # 292,890.22 / 363,059, recomputed, not a sum of the ads' CPCs
        "104.69%",  # Σ Clicks / Σ Impressions of the ads: 363,059 / 346,806
        "",
        "",
        "",
        "",
        "",
    ]
    assert [text for text, _ in tiktok.totals][:5] == ["Total", "", "41,717", "53,125", "45,602.28"]


def test_summary_pages_hide_columns_empty_in_every_row_and_say_so() -> None:
    page = sliced_page("geral/resumo", [])
    asked = parse_table(sliced_page("geral/resumo", [("_col", "Platform,Ad Name,Spend")]))

    assert [label for label, _ in parse_table(page).headers] == [
        "Platform",
        "Clicks",
        "Impressions",
        "Spend",
        "Cost Per Click",
        "Clickthrough Rate",
    ]
    assert (
        "Not shown, empty in every row: Account Name, Ad Name, Status, Objective, Country, "
        "Unique CTR. The CSV, JSON and Excel files keep them."
    ) in page
    assert [label for label, _ in asked.headers] == ["Platform", "Ad Name", "Spend"]
    assert "<tfoot>" not in page


def test_every_link_carries_the_current_options_but_never_the_access_key() -> None:
    query = [
        ("key", "sekr3t-k3y"),
        ("ratios", "sum"),
        ("Country", "BR"),
        ("_sort", "Spend"),
        ("_size", "10"),
        ("_next", "10"),
    ]
    page = sliced_page("meta_ads", query)
    links = hrefs(page)

    assert "sekr3t" not in page  # an access key never appears in a response body
    reports = [link for link in links if link != "/"]
    assert all("ratios=sum" in link for link in reports), reports
    assert "/meta_ads.html?ratios=sum&Country=BR&_sort=Spend&_size=10&_next=20" in links
    assert "/meta_ads.html?ratios=sum&Country=BR&_sort=Spend&_size=10" in links  # first page
    assert "/meta_ads.csv?ratios=sum&Country=BR&_sort=Spend" in links  # every row
    # Formats give the whole sliced report, every page of it: no size, no position.
    assert "/meta_ads.json?ratios=sum&Country=BR&_sort=Spend" in links
    assert "/meta_ads.csv?ratios=sum&Country=BR&_sort=Spend&excel=1&download=1" in links
    assert "/meta_ads.xlsx?ratios=sum&Country=BR&_sort=Spend" in links
    assert not [link for link in links if "_size" in link and ".html" not in link]
    # Headers sort from the first page; the sorted column's link reverses it.
    assert "/meta_ads.html?ratios=sum&Country=BR&_size=10&_sort_desc=Spend" in links
    assert "/meta_ads.html?ratios=sum&Country=BR&_sort=Clicks&_size=10" in links
    # Related reports keep the selection (they share the ad columns), not the table options.
    assert "/meta_ads/resumo.html?ratios=sum&Country=BR" in links
    assert "/geral.html?ratios=sum&Country=BR" in links
    assert "/meta_ads.html?ratios=sum&_sort=Spend&_size=10" in links  # the filter removed
    assert '<th scope="col" class="num" aria-sort="ascending"><a href=' in page
    assert '<span id="row-count">rows 11–20 of 34</span>' in page


def test_a_default_sized_page_links_its_formats_to_every_row() -> None:
    page = sliced_page("geral", [("_next", "20")], page_size=20)
    links = hrefs(page)

    assert "/geral.csv" in links and "/geral.json" in links and "/geral.xlsx" in links
    assert "/geral.csv?download=1" in links
    assert "/geral.csv?excel=br&download=1" in links
    assert "/geral.html?_next=40" in links and "/geral.html" in links  # next, first
    assert 'rel="next"' in page and "All 66 rows as CSV" in page
    assert '<span id="row-count">rows 21–40 of 66</span>' in page


def test_a_whole_table_has_no_paging_links() -> None:
    page = sliced_page("geral", [])

    assert 'id="paging"' not in page and 'rel="next"' not in page
    assert '<span id="row-count">66 rows</span>' in page


@pytest.mark.parametrize(
    ("ratios", "says", "switch"),
    [
        (
            "recompute",
            "Ratios are recomputed from the sums, not summed",
            "/geral/resumo.html?ratios=sum",
        ),
        ("sum", "Ratio columns are summed like the others", "/geral/resumo.html"),
    ],
)
def test_summary_pages_show_the_ratio_mode_and_a_switch(
    ratios: RatioMode, says: str, switch: str
) -> None:
    query = [("ratios", "sum")] if ratios == "sum" else []
    page = sliced_page("geral/resumo", query, ratios=ratios)

    assert says in page
    assert switch in hrefs(page)
    assert "Ratios are" not in sliced_page("geral", [])


def test_summary_pages_show_the_chart_and_ad_pages_do_not() -> None:
    page = sliced_page("geral/resumo", [("_by", "Country")])

    assert page.count("<svg") == 1
    assert "<title>BR: Spend 239,268.14</title>" in page
    assert "<svg" not in sliced_page("geral", [])
    assert "style=" not in page  # a strict CSP blocks style attributes


def test_filters_in_force_are_shown_escaped_with_a_way_out() -> None:
    page = sliced_page("geral", [("Ad Name", '<img src=x onerror="alert(1)">')])

    assert "<img" not in page
    assert '<ul class="chips" id="filters" aria-label="Rows where">' in page
    assert "Ad Name = “&lt;img src=x onerror=&#34;alert(1)&#34;&gt;” <a" in page
    assert "/geral.html" in hrefs(page)
    assert '<span id="row-count">0 rows</span>' in page
    assert '<span id="ad-count">0 of 66 ads</span>' in page


def test_index_page_embeds_the_general_summary_chart() -> None:
    table, _ = slice_report(general(), parse_slice([]), summary=general_summary())
    page = render_index_html(
        name="A",
        email="a@example.com",
        linkedin="",
        reports=[],
        chart_url="/geral/resumo.html",
        chart=render_chart_svg(table),
    )

    assert page.count("<svg") == 1 and "<title>TikTok: Clicks 41,717</title>" in page
    assert '<a href="/geral/resumo.html"><svg' in page
    assert "<svg" not in render_index_html(
        name="A", email="a@example.com", linkedin="", reports=[], chart_url="/geral/resumo.html"
    )


def test_next_page_url_keeps_the_options_but_not_the_key() -> None:
    query = [("key", "sekr3t"), ("_shape", "array"), ("Country", "BR"), ("_size", "20")]
    _, first = slice_report(general(), parse_slice(query), page_size=None)
    _, last = slice_report(general(), parse_slice([*query, ("_next", "40")]))

    assert next_page_url(ReportSpec(None), "json", query, first) == (
        "/geral.json?_shape=array&Country=BR&_size=20&_next=20"
    )
    assert next_page_url(ReportSpec(None), "json", query, last) is None
