"""Sharing with clients, on the app over a real store (a SQLite file, then a PostgreSQL
database) and the real-data simulator: a key scoped to one meta account sees exactly what an
independent filter of the owner's report gives, in every report, format and slicing option;
every widening attempt fails closed; saved views; the audit trail; the store keeps hashes.

The served, multi-process behaviour (revocation across processes, restarts, log lines) is in
test_sharing_served.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from stract_reports import close_app
from stract_reports.access import COOKIE, STORE_READ_TTL
from stract_reports.extensions import app_store
from stract_reports.history_query import exact_time
from stract_reports.scope import Scope
from stract_reports.simulator import Simulator
from stract_reports.simulator.dataset import real_dataset
from stract_reports.store import Store, open_store
from stract_reports.store.keys import cookie_value, secret_hash
from stract_reports.store.times import now_utc
from support import golden

OWNER = "owner-key-0123456789abcdef"
FORMATS = ("csv", "json", "html", "xlsx", "tsv", "ndjson")
META, ACCOUNT = "Facebook Ads", "Zinhao"  # meta account 8: 8 ads, two countries
ZINHAO = Scope(accounts=(("meta_ads", "8"),))
# Every name the key must never see: other accounts, other platforms.
_DATASET = real_dataset()
HIDDEN = sorted(
    {a.name for p in _DATASET.platforms for a in p.accounts if a.name != ACCOUNT}
    | {p.text for p in _DATASET.platforms if p.value != "meta_ads"}
    | {p.value for p in _DATASET.platforms if p.value != "meta_ads"}
)
SLICES = {
    "ads": [
        "",
        "Country=BR",
        "_col=Ad Name,Spend,Clicks",
        "_sort_desc=Spend",
        "_sort=Ad Name&_size=3&_next=3",
        "Status=ACTIVE&_col=Platform,Account Name,Spend",
        "_=12345",
    ],
    "summary": [
        "",
        "Country=BR",
        "_by=Country",
        "_by=Ad Name&_sort_desc=Clicks&_size=2",
        "ratios=sum",
        "_by=Account Name",
        "_col=Spend,Clicks",
    ],
}


@dataclass
class Sharing:
    """The app with a store and an owner key, its store, and a key scoped to Zinhao."""

    app: Flask
    client: FlaskClient
    store: Store
    key: str
    url: str  # the store's

    def get(self, path: str, key: str | None = None, **headers: str) -> TestResponse:
        """GET ``path`` with ``key`` as a Bearer token (None: no key)."""
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.client.get(path, headers=headers)

    def add_key(self, name: str, scope: Scope, **kwargs: Any) -> str:
        """A new stored key (what ``keys add`` makes)."""
        return self.store.keys.add(name, scope, now=now_utc(), **kwargs)[1]

    def add_view(self, name: str, key_name: str, report: str, fmt: str, query: str = "") -> str:
        """A new saved view's id (what ``views add`` makes)."""
        return self.store.views.add(name, key_name, report, fmt, query, now=now_utc())[1]


@pytest.fixture
def sharing(
    store_url: str, make_app: Callable[..., Flask], simulator: Simulator
) -> Iterator[Sharing]:
    # The store first: it is dropped after the app that holds its connections is closed.
    app = make_app(simulator, store_url=store_url, access_keys=(OWNER,))
    store = app_store(app).require()
    _, key = store.keys.add("zinhao", ZINHAO, now=now_utc())
    yield Sharing(app, app.test_client(), store, key, store_url)


# -- reading every format back as a table -------------------------------------------------------


class _Cells(HTMLParser):
    """The header labels and the body and footer cells of a report page (a number's exact value
    from ``data-value``), and the text outside the table."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._part = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._part in ("tbody", "tfoot"):
            self.rows.append([])
        elif tag in ("td", "th") and self._part:
            value = dict(attrs).get("data-value")
            self._cell = [value] if value is not None else []
            self._exact = value is not None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._exact:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.header if self._part == "thead" else self.rows[-1]).append(text)
            self._cell = None
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = ""


def table_of(fmt: str, body: bytes) -> tuple[list[str], list[list[Any]]]:
    """The header and rows a body holds, in any format."""
    if fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(body.decode()), delimiter="," if fmt == "csv" else "\t"))
        return rows[0], rows[1:]
    if fmt == "json":
        doc = json.loads(body)
        objects = doc if isinstance(doc, list) else doc["rows"]
        columns = list(objects[0]) if isinstance(doc, list) and objects else doc.get("columns", [])
        return columns, [list(row.values()) for row in objects]
    if fmt == "ndjson":
        objects = [json.loads(line) for line in body.decode().splitlines()]
        return (list(objects[0]) if objects else []), [list(o.values()) for o in objects]
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
        return [str(v) for v in values[0]], values[1:]
    parser = _Cells()
    parser.feed(body.decode())
    return parser.header, parser.rows


def text_of(fmt: str, response: TestResponse) -> str:
    """Everything a client receives, as text: headers and body (a workbook's XML unzipped)."""
    body = response.get_data()
    if fmt == "xlsx" and response.status_code == 200:
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            body = b"".join(book.read(name) for name in book.namelist())
    return str(response.headers) + body.decode("utf-8", "replace")


def assert_nothing_hidden(text: str) -> None:
    # A random nonce, id, cookie or digest may spell a hidden name by chance ("ga4"): none is
    # data, and none is 20 letters of a name without a space or a slash.
    text = re.sub(r"[A-Za-z0-9_-]{20,}", "", _without_nonce(text))
    shown = [name for name in HIDDEN if name in text]
    assert shown == []


def _path(report: str, fmt: str, query: str) -> str:
    return f"/{report}.{fmt}" + (f"?{quote(query, safe='=&,')}" if query else "")


# -- a key scoped to one account sees exactly that account's part, everywhere ------------------


@pytest.mark.parametrize("report", ["geral", "meta_ads", "geral/resumo", "meta_ads/resumo"])
def test_a_scoped_key_sees_exactly_an_independent_filter_of_the_full_report(
    sharing: Sharing, report: str
) -> None:
    kind = "summary" if report.endswith("resumo") else "ads"
    mine = f"Platform={META}&Account Name={ACCOUNT}"
    for query in SLICES[kind]:
        for fmt in FORMATS:
            path = _path(report, fmt, query)
            scoped = sharing.get(path, sharing.key)
            assert scoped.status_code == 200, (path, scoped.get_data(as_text=True))
            assert_nothing_hidden(text_of(fmt, scoped))
            # The owner's report with the account's ads chosen by a filter: the same table.
            owner_path = _path(report, fmt, "&".join(filter(None, [query, mine])))
            owner = sharing.get(owner_path, OWNER)
            assert owner.status_code == 200, owner.get_data(as_text=True)
            assert table_of(fmt, scoped.get_data()) == table_of(fmt, owner.get_data()), path
            if fmt in ("csv", "tsv", "ndjson"):
                assert scoped.get_data() == owner.get_data()


def test_the_ads_are_the_owners_rows_of_that_account_and_summaries_their_sums(
    sharing: Sharing,
) -> None:
    def rows_of(path: str, key: str) -> Any:
        return json.loads(sharing.get(path, key).get_data(), parse_float=Decimal)

    full = rows_of("/geral.json", OWNER)
    mine = [
        row for row in full["rows"] if (row["Platform"], row["Account Name"]) == (META, ACCOUNT)
    ]
    assert len(mine) == 8
    scoped = rows_of("/geral.json", sharing.key)
    assert scoped["rows"] == mine and scoped["row_count"] == 8
    assert rows_of("/meta_ads.json", sharing.key)["rows"] == mine
    # Summaries: sums of those rows, ratios recomputed from the sums.
    spend = sum(row["Spend"] for row in mine)
    clicks = sum(row["Clicks"] for row in mine)
    impressions = sum(row["Impressions"] for row in mine)
    step = Decimal("0.000001")
    for report in ("geral/resumo", "meta_ads/resumo"):
        (row,) = rows_of(f"/{report}.json", sharing.key)["rows"]
        assert (row["Platform"], row["Spend"]) == (META, spend)
        assert (row["Clicks"], row["Impressions"]) == (clicks, impressions)
        assert row["Cost Per Click"] == (spend / clicks).quantize(step)
        assert row["Clickthrough Rate"] == (Decimal(clicks) / impressions).quantize(step)
        assert row["Unique CTR"] is None
    by_country = rows_of("/geral/resumo.json?_by=Country", sharing.key)
    assert {row["Country"]: row["Clicks"] for row in by_country["rows"]} == {
        country: sum(r["Clicks"] for r in mine if r["Country"] == country)
        for country in ("BR", "US")
    }
    # The HTML totals row is over the same rows.
    _, rows = table_of("html", sharing.get("/geral.html", sharing.key).get_data())
    assert rows[-1][:5] == ["Total", "", str(clicks), str(impressions), str(spend)]


def test_the_index_lists_and_charts_only_what_the_key_sees(sharing: Sharing) -> None:
    index = json.loads(sharing.get("/", sharing.key).get_data())
    assert [r["report"] for r in index["reports"]] == [
        "geral",
        "geral/resumo",
        "meta_ads",
        "meta_ads/resumo",
    ]
    page = sharing.get("/", sharing.key, Accept="text/html")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    assert_nothing_hidden(text_of("html", page))
    assert json.loads(sharing.get("/readyz", sharing.key).get_data())["platforms"] == 1
    assert json.loads(sharing.get("/readyz", OWNER).get_data())["platforms"] == 3


# -- every widening attempt fails closed -------------------------------------------------------


def test_a_report_outside_the_scope_answers_as_an_unknown_one(sharing: Sharing) -> None:
    for fmt in ("csv", "html"):
        for platform in ("ga4", "tiktok_insights"):
            for report in (platform, f"{platform}/resumo"):
                outside = sharing.get(f"/{report}.{fmt}", sharing.key)
                unknown = sharing.get(f"/{report.replace(platform, 'youtube')}.{fmt}", sharing.key)
                assert outside.status_code == unknown.status_code == 404
                assert _without_nonce(str(outside.headers)) == _without_nonce(
                    str(unknown.headers)
                ).replace(str(len(unknown.get_data())), str(len(outside.get_data())))
                body = outside.get_data(as_text=True).replace(platform, "youtube")
                assert _without_nonce(body) == _without_nonce(unknown.get_data(as_text=True))
    detail = sharing.get("/ga4", sharing.key).get_json()["detail"]
    assert detail == "no platform 'ga4'; valid platforms: meta_ads"


def _without_nonce(text: str) -> str:
    return re.sub(r"nonce(=\"|-)[A-Za-z0-9_-]+", "", text)


@pytest.mark.parametrize(
    "path",
    [
        "/geral?Platform=Google Analytics",
        "/geral?Account Name=Jorginho",
        "/geral/resumo?Platform=TikTok",
        "/meta_ads/resumo?Account Name=Dunga",
        "/geral/resumo.json?_by=Platform",
        "/geral/resumo.json?_by=Account Name",
        "/meta_ads.html?_sort_desc=Spend&_size=1",
    ],
)
def test_filters_and_groups_never_reach_past_the_scope(sharing: Sharing, path: str) -> None:
    response = sharing.get(path.replace(" ", "%20"), sharing.key)
    assert response.status_code == 200
    text = text_of("json", response)
    # A filter that keeps nothing is echoed as the client wrote it, and nothing else is said:
    # no value of the scope's ads differs from it only in case, and none outside is looked at.
    _, _, asked = path.partition("?")
    column, _, value = asked.partition("=")
    if not column.startswith("_"):
        echo = json.dumps([f"no ad matches {column} = “{value}”"])
        assert response.headers["X-Report-Warnings"] == echo
        text = text.replace(echo, "")
    assert_nothing_hidden(text)


def test_a_column_outside_the_scope_is_no_column_at_all(sharing: Sharing) -> None:
    key = sharing.add_key("spend-only", Scope(accounts=(("meta_ads", "8"),), columns=("Spend",)))
    header, rows = table_of("csv", sharing.get("/geral.csv", key).get_data())
    assert header == ["Platform", "Account Name", "Spend"] and len(rows) == 8
    for attempt, asked in (
        ("/geral?_col=Clicks", "Clicks"),
        ("/geral?_sort=Clicks", "Clicks"),
        ("/geral?Clicks=886", "Clicks"),
        ("/geral/resumo?_by=Country", "Country"),
        ("/geral/resumo?_col=Spend,Impressions", "Impressions"),
    ):
        answer = sharing.get(attempt, key)
        assert answer.status_code == 400, attempt
        detail = answer.get_json()["detail"]
        assert detail.endswith(f"no column {asked!r}; columns: Platform, Account Name, Spend")
        told = detail.replace(repr(asked), "")
        for hidden in ("Clicks", "Impressions", "Country", "Cost Per Click", "Ad Name"):
            assert hidden not in told
    # Summaries over the column in scope only: no ratio without its components.
    summary = json.loads(sharing.get("/geral/resumo.json", key).get_data())
    assert summary["columns"] == ["Platform", "Account Name", "Spend"]


def test_a_platform_scope_shows_that_platform_in_the_general_reports(sharing: Sharing) -> None:
    key = sharing.add_key("ga4-only", Scope(platforms=("ga4",)))
    rows = json.loads(sharing.get("/geral/resumo.json", key).get_data())["rows"]
    assert [row["Platform"] for row in rows] == ["Google Analytics"]
    ads = json.loads(sharing.get("/geral.json", key).get_data())["rows"]
    assert len(ads) == 14 and {row["Platform"] for row in ads} == {"Google Analytics"}
    assert sharing.get("/meta_ads", key).status_code == 404


def test_owner_keys_see_everything_as_before(sharing: Sharing) -> None:
    assert sharing.get("/geral", OWNER).get_data() == golden("geral")
    assert sharing.get("/geral/resumo").status_code == 401  # a closed server stays closed


def test_a_wrong_key_is_refused_never_read_as_anonymous(
    store_url: str, make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    # No owner key: anonymous requests are allowed (as before), a scoped key narrows, and a
    # wrong key is a 401, not a fall back to anonymous.
    app = make_app(simulator, store_url=store_url)
    store = app_store(app).require()
    _, key = store.keys.add("z", ZINHAO, now=now_utc())
    client = app.test_client()
    assert len(json.loads(client.get("/geral.json").get_data())["rows"]) == 66
    bearer = {"Authorization": f"Bearer {key}"}
    assert len(json.loads(client.get("/geral.json", headers=bearer).get_data())["rows"]) == 8
    wrong = client.get("/geral.json", headers={"Authorization": "Bearer not-a-key-at-all-x"})
    assert wrong.status_code == 401
    assert wrong.get_json()["detail"] == "the access key is not valid"
    browser = app.test_client()
    browser.set_cookie(COOKIE, cookie_value("not-a-key-at-all-x"))
    assert browser.get("/geral.json").status_code == 401
    assert client.get("/geral.json?key=wrong-key-0123456789").status_code == 401


def test_a_browser_holds_a_cookie_for_a_scoped_key_and_keeps_its_scope(sharing: Sharing) -> None:
    page = sharing.client.get(f"/geral.html?key={sharing.key}")
    assert page.status_code == 200
    cookie = page.headers["Set-Cookie"]
    assert cookie == f"{COOKIE}={cookie_value(sharing.key)}; HttpOnly; Path=/; SameSite=Strict"
    assert sharing.key not in page.get_data(as_text=True)
    browser = sharing.app.test_client()
    browser.set_cookie(COOKIE, cookie_value(sharing.key))
    rows = json.loads(browser.get("/geral.json").get_data())["rows"]
    assert {row["Account Name"] for row in rows} == {ACCOUNT}
    sharing.store.keys.revoke("zinhao", now_utc())
    time.sleep(STORE_READ_TTL)
    assert browser.get("/geral.json").status_code == 401


def test_expired_and_revoked_keys_are_refused(sharing: Sharing) -> None:
    short = sharing.add_key("short", ZINHAO, expires=now_utc() + timedelta(seconds=1))
    assert sharing.get("/meta_ads", short).status_code == 200
    time.sleep(1.05)
    assert sharing.get("/meta_ads", short).status_code == 401  # expiry: checked every time
    assert sharing.get("/meta_ads", sharing.key).status_code == 200
    sharing.store.keys.revoke("zinhao", now_utc())
    time.sleep(STORE_READ_TTL)
    assert sharing.get("/meta_ads", sharing.key).status_code == 401


def test_wrong_scoped_keys_and_view_ids_count_for_the_throttle(sharing: Sharing) -> None:
    for number in range(20):
        wrong = f"wrong-key-{number:02d}-0123456789"
        assert sharing.get("/geral", wrong).status_code == 401
    throttled = sharing.get("/geral", sharing.key)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


def test_unknown_view_ids_count_for_the_throttle(sharing: Sharing) -> None:
    for number in range(20):
        assert sharing.get(f"/v/{'x' * 41}{number:02d}").status_code == 404
    assert sharing.get(f"/v/{'x' * 43}").status_code == 429


# -- saved views ---------------------------------------------------------------------------------


def test_a_view_serves_its_report_options_and_scope_with_only_the_allowed_options(
    sharing: Sharing,
) -> None:
    view = sharing.add_view("by-country", "zinhao", "geral/resumo", "csv", "_by=Country")
    expected = sharing.get("/geral/resumo.csv?_by=Country", sharing.key)
    answer = sharing.get(f"/v/{view}")
    assert answer.status_code == 200 and answer.get_data() == expected.get_data()
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    # A cache-buster changes nothing; an owner's key on a view widens nothing.
    assert sharing.get(f"/v/{view}?_=1699999999").get_data() == expected.get_data()
    assert sharing.get(f"/v/{view}", OWNER).get_data() == expected.get_data()
    assert sharing.get(f"/v/{view}?key={OWNER}").get_data() == expected.get_data()
    # In another format: the same table.
    as_json = sharing.get(f"/v/{view}.json").get_data()
    owner_json = sharing.get("/geral/resumo.json?_by=Country", sharing.key).get_data()
    assert table_of("json", as_json) == table_of("json", owner_json)
    for refused in ("_by=Platform", "_col=Spend", "Country=US", "ratios=sum", "_sort=Spend"):
        answer = sharing.get(f"/v/{view}?{refused}")
        assert answer.status_code == 400, refused
        assert answer.get_json()["detail"].startswith(
            "a saved view takes only as_of, since, until, _next, _ from its URL"
        )
    assert sharing.get(f"/v/{view}.pdf").status_code == 404


def test_a_paged_view_pages_without_repeating_its_id(sharing: Sharing) -> None:
    view = sharing.add_view("paged", "zinhao", "meta_ads", "json", "_size=3&_sort=Ad%20Name")
    first = json.loads(sharing.get(f"/v/{view}").get_data())
    assert first["next"] == "?_next=3" and view not in json.dumps(first)
    second = json.loads(sharing.get(f"/v/{view}{first['next']}").get_data())
    direct = sharing.get("/meta_ads.json?_size=3&_sort=Ad%20Name&_next=3", sharing.key)
    assert second["rows"] == json.loads(direct.get_data())["rows"]
    assert second["next"] == "?_next=6"


def test_a_view_page_offers_the_spreadsheet_formulas_and_no_way_out(sharing: Sharing) -> None:
    view = sharing.add_view("sheet", "zinhao", "geral/resumo", "csv", "_by=Country")
    page = sharing.client.get(f"/v/{view}.html", base_url="https://reports.example")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    url = f"https://reports.example/v/{view}"
    assert f"<code>=IMPORTDATA(&#34;{url}&#34;)</code>" in text
    assert (
        f"<code>= Csv.Document(Web.Contents(&#34;{url}&#34;), "
        "[Delimiter=&#34;,&#34;, Encoding=65001])</code>"
    ) in text
    links = re.findall(r'href="([^"]*)"', text)
    assert links == [f"/v/{view}.csv", f"/v/{view}.json", f"/v/{view}.xlsx"]
    # A Host header that is no host name is not written into the formula.
    forged = sharing.client.get(f"/v/{view}.html", headers={"Host": 'x"),evil("'})
    assert "HOST/v/" in forged.get_data(as_text=True)
    # Other pages offer the command that saves them as a view.
    other = sharing.get("/geral/resumo.html?_by=Country&_next=0", sharing.key)
    assert (
        "<code>stract-reports views add NAME &#39;geral/resumo.csv?_by=Country&#39; "
        "--key zinhao</code>"
    ) in other.get_data(as_text=True)
    owner_page = sharing.get("/geral.html", OWNER).get_data(as_text=True)
    assert "views add NAME geral.csv --key KEY_NAME</code>" in owner_page


def test_a_view_ends_with_its_key_and_answers_as_an_unknown_one(sharing: Sharing) -> None:
    view = sharing.add_view("dies", "zinhao", "meta_ads", "csv")
    other = sharing.add_view("stays", "zinhao", "meta_ads", "csv")
    unknown = sharing.get(f"/v/{'A' * 43}")
    assert sharing.get(f"/v/{view}").status_code == 200
    sharing.store.views.revoke("dies", now_utc())
    time.sleep(STORE_READ_TTL)
    gone = sharing.get(f"/v/{view}")
    assert (gone.status_code, gone.get_data()) == (404, unknown.get_data())
    assert sharing.get(f"/v/{other}").status_code == 200
    sharing.store.keys.revoke("zinhao", now_utc())
    time.sleep(STORE_READ_TTL)
    assert sharing.get(f"/v/{other}").get_data() == unknown.get_data()
    short = sharing.add_key("short", ZINHAO, expires=now_utc() + timedelta(seconds=1))
    assert short
    expiring = sharing.add_view("expiring", "short", "meta_ads", "csv")
    assert sharing.get(f"/v/{expiring}").status_code == 200
    time.sleep(1.05)
    assert sharing.get(f"/v/{expiring}").status_code == 404


def test_without_a_store_there_are_no_views(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    client = make_app(simulator).test_client()
    answer = client.get(f"/v/{'A' * 43}")
    assert answer.status_code == 404
    assert answer.get_json() == client.get("/no/such/page").get_json()
    assert "Copy the spreadsheet formula" not in client.get("/geral.html").get_data(as_text=True)


# -- the store: hashes, audit, uses ------------------------------------------------------------


def dump(store: Store) -> str:
    """Everything the store's key, view and audit tables hold, as text."""
    with store.db.read() as tx:
        return "\n".join(
            repr(row)
            for table in ("access_key", "saved_view", "audit")
            for row in tx.rows(f"SELECT * FROM {table}")
        )


def test_the_store_holds_hashes_and_names_never_a_key_a_cookie_or_a_view_id(
    sharing: Sharing,
) -> None:
    view = sharing.add_view("v", "zinhao", "meta_ads", "csv")
    assert sharing.client.get(f"/meta_ads.html?key={sharing.key}").status_code == 200
    assert sharing.get(f"/v/{view}").status_code == 200
    recorder = app_store(sharing.app).recorder
    assert recorder is not None and recorder.flush(10)
    stored = dump(sharing.store)
    assert "'zinhao'" in stored and "'v'" in stored and "'meta_ads'" in stored
    for secret in (sharing.key, cookie_value(sharing.key), view):
        assert secret not in stored
    with sharing.store.db.read() as tx:
        hashes = tx.row("SELECT hash, cookie_hash FROM access_key WHERE name = 'zinhao'")
        view_hash = tx.value("SELECT hash FROM saved_view WHERE name = 'v'")
    assert hashes is not None
    assert bytes(hashes[0]) == secret_hash(sharing.key)
    assert bytes(hashes[1]) == secret_hash(cookie_value(sharing.key))
    assert bytes(view_hash) == secret_hash(view)


def test_a_key_made_before_cookie_digests_gets_one_at_its_first_use(sharing: Sharing) -> None:
    with sharing.store.db.write() as tx:
        tx.execute("UPDATE access_key SET cookie_hash = NULL")
    browser = sharing.app.test_client()
    browser.set_cookie(COOKIE, cookie_value(sharing.key))
    assert browser.get("/meta_ads").status_code == 401
    assert sharing.get("/meta_ads", sharing.key).status_code == 200
    time.sleep(STORE_READ_TTL)
    assert browser.get("/meta_ads").status_code == 200


def test_every_read_by_a_key_or_a_view_is_audited_by_name(sharing: Sharing) -> None:
    view = sharing.add_view("weekly", "zinhao", "geral/resumo", "csv", "_by=Country")
    sharing.get("/meta_ads.json", sharing.key)
    sharing.get("/ga4/resumo.html", sharing.key)
    sharing.get(f"/v/{view}.xlsx")
    sharing.get("/geral", OWNER)
    sharing.get("/", sharing.key)  # the index is no report read
    recorder = app_store(sharing.app).recorder
    assert recorder is not None and recorder.flush(10)
    entries = [
        (e.key, e.view, e.report, e.format, e.status) for e in reversed(sharing.store.audit.query())
    ]
    assert entries == [
        ("zinhao", None, "meta_ads", "json", 200),
        ("zinhao", None, "ga4/resumo", "html", 404),
        ("zinhao", "weekly", "geral/resumo", "xlsx", 200),
        (None, None, "geral", "csv", 200),
    ]
    assert [e.view for e in sharing.store.audit.query(key="zinhao")] == ["weekly", None, None]


def test_last_use_is_written_at_most_once_a_minute(sharing: Sharing) -> None:
    assert sharing.get("/meta_ads", sharing.key).status_code == 200

    def stored() -> tuple[int, Any]:
        record = sharing.store.keys.get("zinhao")
        assert record is not None
        return record.uses, record.last_used

    until = time.monotonic() + 5
    while stored()[0] == 0:
        assert time.monotonic() < until
        time.sleep(0.05)
    first = stored()
    assert first[0] == 1 and first[1] is not None
    for _ in range(9):
        assert sharing.get("/meta_ads.json", sharing.key).status_code == 200
    time.sleep(2.5)  # the recorder writes audit entries every second: not the uses
    assert stored() == first
    close_app(sharing.app)  # what is pending is written when the app closes
    again = open_store(sharing.url)
    assert again is not None
    record = again.keys.get("zinhao")
    again.close()
    assert record is not None and record.uses == 10 and record.last_used > first[1]


def test_a_scoped_read_asks_the_upstream_nothing_outside_the_scope(
    store_url: str, make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> None:
    # Every call for GA4, TikTok or another meta account's insights fails: a scoped report is
    # whole (no call was made), even warm (the owner's read taught the process every call).
    sim = make_simulator()
    app = make_app(sim, store_url=store_url, access_keys=(OWNER,))
    client = app.test_client()
    store = app_store(app).require()
    _, key = store.keys.add("z", ZINHAO, now=now_utc())
    assert client.get("/geral", headers={"Authorization": f"Bearer {OWNER}"}).status_code == 200
    sim.reset()
    assert client.get("/geral", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    calls = sim.stats()["requests"]
    assert calls["insights"] == 1 and calls["accounts"] == 3 and calls["fields"] == 2
    assert calls["platforms"] == 1


def test_an_upstream_failure_outside_the_scope_neither_fails_nor_shows(
    store_url: str, make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> None:
    from stract_reports.simulator import parse_faults

    sim = make_simulator(
        faults=parse_faults("500:match=platform=ga4,500:match=account=3&,500:match=tiktok")
    )
    app = make_app(sim, store_url=store_url, access_keys=(OWNER,), retries=0)
    client = app.test_client()
    store = app_store(app).require()
    _, key = store.keys.add("z", ZINHAO, now=now_utc())
    scoped = client.get("/geral", headers={"Authorization": f"Bearer {key}"})
    assert scoped.status_code == 200 and len(scoped.get_data().splitlines()) == 9
    assert sum(sim.stats()["faults"].values()) == 0
    # The faults are there: the owner's report meets them.
    owner = client.get("/geral", headers={"Authorization": f"Bearer {OWNER}"})
    assert owner.status_code == 502


def test_a_store_that_cannot_be_read_fails_scoped_reads_closed(sharing: Sharing) -> None:
    view = sharing.add_view("v", "zinhao", "meta_ads", "csv")
    sharing.store.db.close()  # every read of it now fails as a store that is down does
    time.sleep(STORE_READ_TTL)
    for answer in (sharing.get("/meta_ads", sharing.key), sharing.get(f"/v/{view}")):
        assert answer.status_code == 503
        body = answer.get_json()
        assert body["error"] == "store unavailable" and "the store was closed" in body["detail"]
        assert ACCOUNT not in answer.get_data(as_text=True)
    # The owner's keys need no store.
    assert sharing.get("/meta_ads", OWNER).status_code == 200


def test_an_etag_tells_apart_what_the_body_shows(sharing: Sharing) -> None:
    by_country = sharing.add_view("a", "zinhao", "geral/resumo", "csv", "_by=Country")
    by_status = sharing.add_view("b", "zinhao", "geral/resumo", "csv", "_by=Status")
    first, second = sharing.get(f"/v/{by_country}"), sharing.get(f"/v/{by_status}")
    assert first.get_data() != second.get_data()
    assert first.headers["ETag"] != second.headers["ETag"]
    again = sharing.get(f"/v/{by_country}", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # Two keys of one scope: the same table, but each page names its own key.
    other = sharing.add_key("zinhao-2", ZINHAO)
    mine, theirs = sharing.get("/geral.html", sharing.key), sharing.get("/geral.html", other)
    assert "--key zinhao-2" in theirs.get_data(as_text=True)
    assert mine.headers["ETag"] != theirs.headers["ETag"]


# -- reports over time: every snapshot is narrowed to the key's scope ----------------------------


def test_reports_over_time_never_reach_past_the_scope(sharing: Sharing) -> None:
    assert sharing.get("/geral", OWNER).status_code == 200  # the owner's read is recorded
    assert sharing.get("/geral", sharing.key).status_code == 200  # a scoped read is not
    assert app_store(sharing.app).flush(10)
    (snapshot,) = sharing.store.snapshots.page().snapshots
    when = exact_time(snapshot.taken_at)
    mine = f"Platform={META}&Account Name={ACCOUNT}"
    for report in ("geral", "meta_ads", "geral/resumo", "meta_ads/resumo"):
        for query in (
            f"as_of={when}",
            f"since={when}",
            f"compare={when}",
            f"since={when}&_grain=hour",
        ):
            if "_grain" in query and not report.endswith("resumo"):
                continue  # a time series is a summary's
            for fmt in FORMATS:
                path = _path(report, fmt, query)
                scoped = sharing.get(path, sharing.key)
                assert scoped.status_code == 200, (path, scoped.get_data(as_text=True))
                assert_nothing_hidden(text_of(fmt, scoped))
        # As of a snapshot, the key sees the owner's report of it with its account chosen.
        scoped = sharing.get(_path(report, "csv", f"as_of={when}"), sharing.key)
        owner = sharing.get(_path(report, "csv", f"as_of={when}&{mine}"), OWNER)
        assert scoped.get_data() == owner.get_data()
    # A platform outside the scope is unknown in the past too.
    assert sharing.get(f"/ga4.csv?as_of={quote(when)}", sharing.key).status_code == 404
    assert sharing.get(f"/ga4.csv?as_of={quote(when)}", OWNER).status_code == 200


def test_the_snapshot_list_shows_a_scoped_key_its_times_but_not_the_upstreams_counts(
    sharing: Sharing,
) -> None:
    assert sharing.get("/geral", OWNER).status_code == 200
    assert app_store(sharing.app).flush(10)
    (owners,) = json.loads(sharing.get("/history.json", OWNER).get_data())["snapshots"]
    (keys,) = json.loads(sharing.get("/history.json", sharing.key).get_data())["snapshots"]
    assert (owners["platforms"], owners["accounts"], owners["ads"]) == (3, 19, 66)
    counts = ("platforms", "accounts", "ads", "changed")
    assert {name: keys[name] for name in counts} == dict.fromkeys(counts)
    assert {k: v for k, v in keys.items() if k not in counts} == {
        k: v for k, v in owners.items() if k not in counts
    }
    page = sharing.get("/history.html", sharing.key)
    assert page.status_code == 200 and "—" in page.get_data(as_text=True)
    assert_nothing_hidden(text_of("html", page))
