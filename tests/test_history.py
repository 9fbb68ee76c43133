"""Reports over time, through the app, against a real SQLite file and a real PostgreSQL: the
report as of a snapshot is the bytes served then; a change and a time series add up to what a
computation from the simulator's own rows says; comparisons; what each answer says of the
snapshots it used; /history; and every way of asking wrongly."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from stract_reports.extensions import app_store
from stract_reports.history import SourceCache
from stract_reports.history_query import exact_time
from stract_reports.pipeline import Source
from stract_reports.simulator import Growth, Simulator
from stract_reports.store import SnapshotInfo
from support import REPORTS

START = 1_000_000.0  # the simulated clock's seconds when the data begins to grow
FORMATS = ("csv", "tsv", "ndjson", "json", "html", "xlsx")


class Clock:
    """The simulator's clock: its numbers grow only when a test moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def grown(make_simulator: Callable[..., Simulator], clock: Clock) -> Simulator:
    """The real dataset, its lifetime numbers growing 2 % a minute of the simulated clock."""
    return make_simulator(growth=Growth(0.02, start=START, clock=clock))


@pytest.fixture
def app(make_app: Callable[..., Flask], grown: Simulator, store_url: str) -> Flask:
    """The report app recording into a new store."""
    return make_app(grown, store_url=store_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def snapshots(app: Flask) -> list[SnapshotInfo]:
    """Every snapshot recorded so far, newest first (the recorder's queue written first)."""
    link = app_store(app)
    assert link.flush()
    assert link.store is not None
    return link.store.snapshots.page(limit=1000).snapshots


def record(app: Flask, client: FlaskClient, url: str) -> None:
    """Ask a live report, and wait until its read is recorded (a recorder busy with another
    read drops the next: the tests that count snapshots wait for each)."""
    get(client, url)
    snapshots(app)


def at(info: SnapshotInfo) -> str:
    """A snapshot's time as a URL's query value."""
    return quote(exact_time(info.taken_at))


def get(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    return response


def html_table(body: bytes) -> bytes:
    """An HTML report's table (the page around it says when it was made), without its links
    (those of a page from the past keep its time)."""
    table = re.search(rb'<table id="report">.*?</table>', body, re.S).group(0)  # type: ignore[union-attr]
    return re.sub(rb' href="[^"]*"', b"", table)


def comparable(fmt: str, body: bytes) -> Any:
    """What of an answer in ``fmt`` must equal the live one: every byte of the files that
    carry no time; the rows and columns of the others."""
    if fmt == "json":
        document = json.loads(body)
        return document["columns"], document["rows"], document["warnings"]
    if fmt == "html":
        return html_table(body)
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(body)).active
        return [[cell.value for cell in row] for row in sheet.iter_rows()]
    return body


# The report as of a snapshot.


def test_as_of_is_the_bytes_served_when_the_snapshot_was_taken(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    served: list[dict[str, bytes]] = []
    times: list[SnapshotInfo] = []
    for _ in range(2):
        served.append({r: get(client, f"/{r}.csv").data for r in REPORTS})
        times.append(snapshots(app)[0])  # the round's last read
        clock.advance(30)  # the upstream's numbers change
    assert served[0] != served[1]  # the two rounds read different numbers
    for before, then in zip(served, times, strict=True):
        for report in REPORTS:
            answer = get(client, f"/{report}.csv?as_of={at(then)}")
            assert answer.data == before[report], report
    # A time after a snapshot, before the next, is that snapshot's.
    middle = times[0].taken_at + timedelta(microseconds=1)
    assert get(client, f"/geral?as_of={quote(exact_time(middle))}").data == served[0]["geral"]


@pytest.mark.parametrize(
    "options",
    ["", "_sort_desc=Spend&_size=7", "Country=BR&_col=Platform,Ad Name,Spend", "_by=Country"],
)
def test_as_of_equals_the_live_report_in_every_format_and_slice(
    app: Flask, client: FlaskClient, clock: Clock, options: str
) -> None:
    report = "geral/resumo" if "_by" in options else "geral"
    live = {fmt: get(client, f"/{report}.{fmt}?{options}").data for fmt in FORMATS}
    then = snapshots(app)[0]
    clock.advance(45)
    get(client, f"/{report}.csv")  # a later read: as_of must not take it
    for fmt in FORMATS:
        past = get(client, f"/{report}.{fmt}?{options}&as_of={at(then)}").data
        assert comparable(fmt, past) == comparable(fmt, live[fmt]), fmt


def test_an_as_of_answer_says_which_snapshots_it_used(app: Flask, client: FlaskClient) -> None:
    record(app, client, "/meta_ads")  # meta read first, then every platform
    record(app, client, "/geral")
    meta, whole = snapshots(app)[::-1]
    csv_answer = get(client, f"/geral.csv?download=1&as_of={at(whole)}")
    assert csv_answer.headers["Stract-Snapshot"] == exact_time(whole.taken_at)
    stamp = whole.taken_at.strftime("%Y%m%dT%H%M%SZ")
    assert csv_answer.headers["Content-Disposition"] == (
        f'attachment; filename="stract-geral-as-of-{stamp}.csv"'
    )
    # Each platform from its own latest read: meta's alone is enough for /meta_ads as of it.
    meta_only = get(client, f"/meta_ads.json?as_of={at(meta)}").get_json()
    assert list(meta_only)[:4] == ["report", "title", "generated_at", "snapshot"]
    assert meta_only["snapshot"] == {
        "as_of": exact_time(meta.taken_at),
        "snapshots": [{"id": meta.id, "taken_at": exact_time(meta.taken_at), "trigger": "request"}],
    }
    page = get(client, f"/geral.html?as_of={at(whole)}").data.decode()
    assert 'id="snapshot"' in page and "not live" in page
    assert whole.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ") in page
    assert 'href="/history.html"' in page
    # The links of the page keep the time: sorting or paging stays in the past.
    assert f"as_of={at(whole)}" in page.replace("%3A", ":").replace(":", "%3A")
    assert "Stract-Snapshot" not in get(client, "/geral").headers


def test_as_of_answers_keep_a_strong_tag_and_revalidate(app: Flask, client: FlaskClient) -> None:
    record(app, client, "/geral")
    then = snapshots(app)[0]
    first = get(client, f"/geral.csv?as_of={at(then)}")
    tag = first.headers["ETag"]
    assert not tag.startswith("W/")
    again = client.get(f"/geral.csv?as_of={at(then)}", headers={"If-None-Match": tag})
    assert again.status_code == 304


def test_a_platform_not_on_the_list_then_is_unknown_then(app: Flask, client: FlaskClient) -> None:
    record(app, client, "/geral")
    then = snapshots(app)[0]
    answer = get(client, f"/nope?as_of={at(then)}", 404).get_json()
    assert answer["detail"] == "no platform 'nope'; valid platforms: meta_ads, ga4, tiktok_insights"


# The change over a period, against a computation from the simulator's own rows.


LABELS = {"clicks": "Clicks", "impressions": "Impressions", "spend": "Spend"}


def raw_totals(sim: Simulator, clock: Clock, minutes: float) -> dict[str, dict[str, Decimal]]:
    """Per platform label: the sums of clicks, impressions and spend the simulator serves at
    ``minutes`` after START, summed here from its rows grown by its own Growth."""
    growth = sim.growth
    assert growth is not None
    saved, clock.now = clock.now, START + minutes * 60
    try:
        totals = {}
        for platform in sim.dataset.platforms:
            keys = {
                LABELS[f["text"].lower()]: f["value"]
                for f in platform.fields
                if f["text"].lower() in LABELS
            }
            sums = dict.fromkeys(LABELS.values(), Decimal(0))
            for account in platform.accounts:
                for row in platform.insight_rows(account):
                    grown = growth.grow(platform.value, account.id, row)
                    for label, key in keys.items():
                        sums[label] += Decimal(str(grown[key]))
            totals[platform.text] = sums
        return totals
    finally:
        clock.now = saved


def six(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_a_period_change_adds_up_the_changes_and_recomputes_ratios(
    app: Flask, client: FlaskClient, clock: Clock, grown: Simulator
) -> None:
    record(app, client, "/geral")
    clock.advance(10)
    record(app, client, "/geral")
    clock.advance(50)
    record(app, client, "/geral")
    first, middle, last = snapshots(app)[::-1]
    for start_minute, start, end_minute, end, until in (
        (0, first, 60, last, ""),  # until: the latest snapshot
        (0, first, 10, middle, f"&until={at(middle)}"),
        (10, middle, 60, last, f"&until={at(last)}"),
    ):
        answer = get(client, f"/geral/resumo.csv?since={at(start)}{until}")
        assert answer.headers["Stract-Snapshot"] == ", ".join(
            [exact_time(start.taken_at), exact_time(end.taken_at)]
        )
        before = raw_totals(grown, clock, start_minute)
        after = raw_totals(grown, clock, end_minute)
        for row in rows_of(answer.data):
            change = {
                k: after[row["Platform"]][k] - before[row["Platform"]][k] for k in LABELS.values()
            }
            assert Decimal(row["Clicks"]) == change["Clicks"]
            assert Decimal(row["Impressions"]) == change["Impressions"]
            assert Decimal(row["Spend"]) == change["Spend"]
            # Never a difference of the ratios: the ratio of the differences.
            assert Decimal(row["Cost Per Click"]) == six(change["Spend"] / change["Clicks"])
            assert Decimal(row["Clickthrough Rate"]) == six(
                change["Clicks"] / change["Impressions"]
            )
        assert len(rows_of(answer.data)) == 3


def test_a_change_per_ad_counts_a_new_ad_from_zero_and_drops_a_gone_one(
    app: Flask, client: FlaskClient, clock: Clock, grown: Simulator
) -> None:
    tiktok = grown.dataset.platform("tiktok_insights")
    assert tiktok is not None
    account = tiktok.accounts[0]
    rows = account.insights
    assert rows is not None and len(rows) >= 2
    record(app, client, "/tiktok_insights")
    start = snapshots(app)[0]
    gone = rows.pop(0)
    rows.append(
        {**gone, "id": 999, "ad_name": "Novo", "clicks": 40, "cost": 10.0, "impressions": 400}
    )
    clock.advance(5)
    record(app, client, "/tiktok_insights")
    snapshots(app)  # recorded
    table = rows_of(get(client, f"/tiktok_insights.csv?since={at(start)}").data)
    names = [row["Ad Name"] for row in table]
    assert gone["ad_name"] not in names or names.count(gone["ad_name"]) < 2
    new = [row for row in table if row["Ad Name"] == "Novo"]
    growth = grown.growth
    assert growth is not None
    now_row = growth.grow("tiktok_insights", account.id, rows[-1])
    assert len(new) == 1
    assert Decimal(new[0]["Clicks"]) == now_row["clicks"]  # from zero: its whole count
    assert Decimal(new[0]["Spend"]) == Decimal(str(now_row["cost"]))
    assert len(table) == sum(len(a.insights or []) for a in tiktok.accounts)


def test_until_now_is_a_fresh_read_and_is_recorded(
    app: Flask, client: FlaskClient, clock: Clock, grown: Simulator
) -> None:
    record(app, client, "/geral")
    start = snapshots(app)[0]
    clock.advance(20)
    answer = get(client, f"/geral/resumo.json?since={at(start)}&until=now")
    document = answer.get_json()
    assert document["snapshot"]["until"] == "now" and document["snapshot"]["to"] == []
    assert answer.headers["Stract-Snapshot"] == f"{exact_time(start.taken_at)}, now"
    before, after = raw_totals(grown, clock, 0), raw_totals(grown, clock, 20)
    for row in document["rows"]:
        platform = row["Platform"]
        assert Decimal(str(row["Clicks"])) == after[platform]["Clicks"] - before[platform]["Clicks"]
    latest = snapshots(app)[0]
    assert latest.id != start.id and latest.changed > 0  # the fresh read was recorded


def test_compare_adds_each_numbers_change_and_relative_change(
    app: Flask, client: FlaskClient, clock: Clock, grown: Simulator
) -> None:
    record(app, client, "/geral")
    then = snapshots(app)[0]
    clock.advance(15)
    answer = get(client, f"/geral/resumo.csv?compare={at(then)}")
    rows = rows_of(answer.data)
    assert list(rows[0])[:5] == ["Platform", "Account Name", "Clicks", "Clicks Δ", "Clicks Δ%"]
    before, after = raw_totals(grown, clock, 0), raw_totals(grown, clock, 15)
    for row in rows:
        old, new = before[row["Platform"]], after[row["Platform"]]
        assert Decimal(row["Spend"]) == new["Spend"]
        assert Decimal(row["Spend Δ"]) == new["Spend"] - old["Spend"]
        assert Decimal(row["Spend Δ%"]) == six((new["Spend"] - old["Spend"]) / old["Spend"])
        # A ratio's change is the change of the ratio, each side recomputed from its own sums.
        cpc_now, cpc_then = six(new["Spend"] / new["Clicks"]), six(old["Spend"] / old["Clicks"])
        assert Decimal(row["Cost Per Click Δ"]) == cpc_now - cpc_then
    # Ads are matched by identity; the Δ columns sort and pick like any other.
    ads = rows_of(
        get(
            client, f"/geral.csv?compare={at(then)}&_sort_desc=Spend Δ&_col=Ad Name,Spend Δ&_size=3"
        ).data
    )
    assert list(ads[0]) == ["Ad Name", "Spend Δ"]
    deltas = [Decimal(row["Spend Δ"]) for row in ads]
    assert deltas == sorted(deltas, reverse=True) and len(deltas) == 3
    # Groups of _by are matched by their value.
    by = rows_of(get(client, f"/geral/resumo.csv?compare={at(then)}&_by=Country").data)
    live = rows_of(get(client, "/geral/resumo.csv?_by=Country").data)
    past = rows_of(get(client, f"/geral/resumo.csv?_by=Country&as_of={at(then)}").data)
    old = {row["Country"]: Decimal(row["Clicks"]) for row in past}
    assert [row["Country"] for row in by] == [row["Country"] for row in live]
    for row in by:
        assert Decimal(row["Clicks Δ"]) == Decimal(row["Clicks"]) - old[row["Country"]]
    page = get(client, f"/geral.html?compare={at(then)}").data.decode()
    # The totals row sums the changes, and leaves relative changes empty (no meaning summed).
    totals = re.search(r"<tfoot>.*?</tfoot>", page, re.S).group(0)  # type: ignore[union-attr]
    assert "%" in page and "Total" in totals


def test_compare_as_of_compares_two_snapshots(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    record(app, client, "/meta_ads/resumo")
    clock.advance(10)
    record(app, client, "/meta_ads/resumo")
    first, second = snapshots(app)[::-1]
    clock.advance(10)
    answer = get(client, f"/meta_ads/resumo.json?as_of={at(second)}&compare={at(first)}")
    document = answer.get_json()
    assert document["snapshot"]["now"][0]["id"] == second.id
    assert document["snapshot"]["then"][0]["id"] == first.id
    live_then = get(client, f"/meta_ads/resumo.json?as_of={at(first)}").get_json()["rows"]
    live_now = get(client, f"/meta_ads/resumo.json?as_of={at(second)}").get_json()["rows"]
    for row, old, new in zip(document["rows"], live_then, live_now, strict=True):
        # Accounts sharing a name stay two rows, each matched by its id.
        assert row["Clicks"] == new["Clicks"]
        assert Decimal(str(row["Clicks Δ"])) == Decimal(str(new["Clicks"])) - Decimal(
            str(old["Clicks"])
        )


def test_a_time_series_is_one_row_per_group_and_period_and_draws_lines(
    app: Flask, client: FlaskClient, clock: Clock, grown: Simulator
) -> None:
    record(app, client, "/geral")
    start = snapshots(app)[0]
    clock.advance(10)
    record(app, client, "/geral")
    end = snapshots(app)[0]
    answer = get(client, f"/geral/resumo.csv?since={at(start)}&until={at(end)}&_grain=hour")
    rows = rows_of(answer.data)
    assert list(rows[0])[:3] == ["Period", "Platform", "Account Name"]
    periods = sorted({row["Period"] for row in rows})
    hour = start.taken_at.replace(minute=0, second=0, microsecond=0)
    assert periods[0] == hour.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The periods together are the whole change.
    whole = rows_of(get(client, f"/geral/resumo.csv?since={at(start)}&until={at(end)}").data)
    for row in whole:
        mine = [r for r in rows if r["Platform"] == row["Platform"]]
        assert sum(Decimal(r["Spend"]) for r in mine) == Decimal(row["Spend"])
    page = get(client, f"/geral/resumo.html?since={at(start)}&until={at(end)}&_grain=day").data
    assert page.count(b"<polyline") == 3 and b"<script" not in page
    assert (
        get(client, f"/geral/resumo.json?since={at(start)}&_grain=week").get_json()["snapshot"][
            "grain"
        ]
        == "week"
    )


def test_unchanged_reads_write_no_ad_row(app: Flask, client: FlaskClient) -> None:
    record(app, client, "/geral")
    store = app_store(app).store
    assert store is not None

    def ad_rows() -> int:
        with store.db.read() as tx:
            return int(tx.value("SELECT count(*) FROM ad_version"))

    snapshots(app)
    before = ad_rows()
    for report in ("geral", "geral/resumo", "meta_ads", "ga4/resumo"):
        get(client, f"/{report}")
        snapshots(app)  # written before the next (a busy recorder drops reads)
    recorded = snapshots(app)
    assert ad_rows() == before == 66
    assert [s.changed for s in recorded] == [0, 0, 0, 0, 66]
    assert [s.trigger for s in recorded] == ["request"] * 5


# /history


def test_history_lists_snapshots_newest_first_a_page_at_a_time(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    for _ in range(5):
        record(app, client, "/geral")
        clock.advance(1)
    recorded = snapshots(app)
    document = get(client, "/history.json?_size=2").get_json()
    listed = document["snapshots"]
    while document["next"]:
        assert document["next"].startswith("/history.json?_size=2&_next=")
        document = get(client, document["next"]).get_json()
        listed += document["snapshots"]
    assert [s["id"] for s in listed] == [s.id for s in recorded]
    newest = listed[0]
    assert newest["trigger"] == "request" and newest["ads"] == 66 and newest["platforms"] == 3
    assert newest["links"]["geral"] == f"/geral.html?as_of={quote(newest['taken_at'], safe='')}"
    assert get(client, newest["links"]["geral"]).status_code == 200
    browser = {"Accept": "text/html,application/xhtml+xml"}
    page = client.get("/history", headers=browser)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.data.count(b"<tr>") == 1 + 5 and b"<script" not in page.data
    assert client.get("/history").mimetype == "application/json"
    index = client.get("/", headers={"Accept": "application/json"}).get_json()
    assert index["history"] == "/history.json"
    assert b'href="/history.html" id="history"' in client.get("/", headers=browser).data


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/history.csv", 404, "no format 'csv'; use .html or .json"),
        ("/history.json?_size=0", 400, "_size must be a whole number from 1 to 1000"),
        ("/history.json?_size=99999999999", 400, "_size must be"),
        ("/history.json?_next=garbage", 400, "_next is no page of this list"),
        ("/history.json?x=1", 400, "unknown option 'x'; /history takes _size and _next"),
    ],
)
def test_history_refuses_what_it_does_not_take(
    app: Flask, client: FlaskClient, url: str, status: int, words: str
) -> None:
    answer = get(client, url, status).get_json()
    assert words in answer["detail"]


# Asking wrongly.


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("as_of=9999-12-31", "as_of 9999-12-31T00:00:00Z is in the future"),
        ("as_of=NaN", "as_of 'NaN' is no time"),
        ("as_of=" + "9" * 3_900, "as_of is 3900 characters long"),
        ("as_of=99999-01-01", "is no time"),
        ("as_of=-5m", "a duration counts back from now"),
        ("as_of=0m", "must be more than 0"),
        ("as_of=2026-12-01T10:00%2B99:00", "the offset +99:00 is out of range"),
        ("as_of=2026-02-30", "day is out of range for month"),
        ("as_of=0001-01-01T00:00%2B01:00", "is no time"),
        ("as_of=1e5", "is no time"),
        ("as_of=%00%0d%0a", "is no time"),
        ("as_of=", "as_of is empty"),
        ("as_of=1d&as_of=2d", "as_of is given twice"),
        ("since=2h&until=3h", "must be after since"),
        ("since=2h&until=2h", "must be after since"),
        ("until=1h", "until ends the period that since starts: give since too"),
        ("since=1h&compare=2h", "give one of them"),
        ("as_of=1h&since=2h", "give one"),
        ("_grain=day", "give since"),
        ("since=1h&_grain=month", "_grain must be hour, day or week"),
        ("since=1h&_grain=hour", "ask a summary"),
    ],
)
def test_a_bad_history_option_is_a_400_in_words(
    client: FlaskClient, query: str, words: str
) -> None:
    answer = client.get(f"/geral.csv?{query}")
    assert answer.status_code == 400, answer.data[:300]
    assert words in answer.get_json()["detail"]


def test_a_value_longer_than_a_url_may_be_is_a_414_never_a_500(client: FlaskClient) -> None:
    answer = client.get("/geral.csv?as_of=" + "9" * 10_000)
    assert answer.status_code == 414
    assert "the limit is 4000" in answer.get_json()["detail"]


def test_too_many_periods_is_a_400(app: Flask, client: FlaskClient) -> None:
    record(app, client, "/geral")
    answer = get(client, "/geral/resumo.csv?since=100w&_grain=hour", 400).get_json()
    assert "more than 1,000" in answer["detail"] and "wider _grain" in answer["detail"]


def test_a_time_before_the_first_snapshot_is_a_404_naming_it(
    app: Flask, client: FlaskClient
) -> None:
    empty = get(client, "/geral?as_of=1d", 404).get_json()
    assert empty["detail"] == "no snapshot was ever recorded"
    record(app, client, "/geral")
    first = snapshots(app)[0]
    for query in ("as_of=2020-01-01", "since=2020-01-01", "compare=2020-01-01"):
        answer = get(client, f"/geral/resumo?{query}", 404).get_json()
        assert answer["error"] == "nothing recorded"
        assert first.taken_at.isoformat(timespec="seconds") in answer["detail"]


def test_with_the_store_off_every_history_option_says_how_to_turn_it_on(
    make_app: Callable[..., Flask], grown: Simulator
) -> None:
    client = make_app(grown).test_client()  # FAST: the store off
    for url in (
        "/geral?as_of=1d",
        "/geral?since=1d",
        "/geral?compare=1d",
        "/geral/resumo?since=1d&_grain=day",
        "/history",
        "/history.json",
    ):
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert "STRACT_STORE_URL is off" in answer.get_json()["detail"]
    assert client.get("/geral").status_code == 200
    assert client.get("/readyz").get_json()["store"] == "off"


def test_servers_of_two_upstreams_on_one_store_see_only_their_own(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator], store_url: str
) -> None:
    one = make_app(make_simulator(), store_url=store_url)
    other = make_app(make_simulator(), store_url=store_url)
    get(one.test_client(), "/geral")
    snapshots(one)
    assert snapshots(other) == []
    assert get(other.test_client(), "/history.json").get_json()["snapshots"] == []
    get(other.test_client(), "/geral?as_of=1s", 404)


def test_the_cache_keeps_the_last_sources_read_back() -> None:
    cache = SourceCache(size=2)
    built: list[str] = []

    def build(name: str) -> Callable[[], Source]:
        def make() -> Source:
            built.append(name)
            return name  # type: ignore[return-value]

        return make

    assert cache.get("a", build("a")) == "a"
    assert cache.get("a", build("a")) == "a"
    cache.get("b", build("b"))
    cache.get("c", build("c"))  # "a" is the oldest: forgotten
    cache.get("b", build("b"))
    cache.get("a", build("a"))
    assert built == ["a", "b", "c", "a"]
