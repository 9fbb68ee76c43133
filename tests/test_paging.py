"""Paging on the real server: a page past the end is no page (404, like an unknown page), the
JSON says how many rows every page holds and how many the report has without filters, and a
paged HTML page offers the whole sliced report as files."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pandas as pd
import pytest
from flask.testing import FlaskClient

from stract_reports.simulator import Simulator


def format_links(page: str) -> dict[str, str]:
    """The page's file links by their text (CSV, JSON, Excel (.xlsx), Download ...)."""
    found: dict[str, str] = {}

    class Links(HTMLParser):
        href: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.href = dict(attrs).get("href") if tag == "a" else None

        def handle_data(self, data: str) -> None:
            if self.href and data.strip():
                found.setdefault(data.strip(), self.href)
            self.href = None

    Links().feed(page)
    return found


@pytest.mark.parametrize(
    ("path", "rows"),
    [
        ("/geral.html?_next=500", "66 rows"),
        ("/geral.json?_next=66", "66 rows"),
        ("/geral?Platform=TikTok&_size=5&_next=10", "10 rows"),
        ("/geral/resumo.json?_next=3", "3 rows"),
        ("/geral.csv?Platform=nobody&_next=1", "0 rows"),
    ],
)
def test_a_page_past_the_end_is_a_404_saying_so(client: FlaskClient, path: str, rows: str) -> None:
    response = client.get(path)
    token = path.rsplit("_next=", 1)[1]
    detail = (
        f"_next={token} is past the end: with these options the report has {rows}; "
        "its first page has no _next"
    )

    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    if ".html" in path:
        assert response.mimetype == "text/html"
        assert "no such page" in response.text and detail in response.text
    else:
        assert response.get_json() == {"error": "no such page", "detail": detail, "status": 404}


def test_the_last_page_is_still_a_page(client: FlaskClient) -> None:
    response = client.get("/geral.json?_size=20&_next=60")
    assert response.status_code == 200
    document = response.get_json()
    assert (document["row_count"], "next" in document) == (6, False)


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        ("/geral.json", (66, 66, 66)),
        ("/geral.json?_size=10", (10, 66, 66)),
        ("/geral.json?Platform=TikTok&_size=4&_next=4", (4, 10, 66)),
        ("/geral/resumo.json?Country=US", (3, 3, 3)),
        ("/geral/resumo.json?_by=Objective&Platform=TikTok", (1, 1, 3)),
        ("/meta_ads/resumo.json?Country=US", (7, 7, 11)),
        ("/geral.json?Platform=nobody", (0, 0, 66)),
    ],
)
def test_json_carries_the_filtered_and_unfiltered_row_counts(
    client: FlaskClient, path: str, counts: tuple[int, int, int]
) -> None:
    document = client.get(path).get_json()
    shown = (document["row_count"], document["filtered_row_count"], document["table_row_count"])
    assert shown == counts
    assert len(document["rows"]) == counts[0]


def test_a_sized_page_offers_the_whole_filtered_report_as_files(
    client: FlaskClient, simulator: Simulator
) -> None:
    page = client.get("/geral.html?Platform=TikTok&_sort_desc=Spend&_size=3&_next=3").text
    links = format_links(page)

    assert links["CSV"] == "/geral.csv?Platform=TikTok&_sort_desc=Spend"
    assert links["Excel (.xlsx)"] == "/geral.xlsx?Platform=TikTok&_sort_desc=Spend"
    assert links["Download JSON"] == "/geral.json?Platform=TikTok&_sort_desc=Spend&download=1"
    csv = pd.read_csv(io.BytesIO(client.get(links["CSV"]).data))
    workbook = pd.read_excel(io.BytesIO(client.get(links["Excel (.xlsx)"]).data))
    document = client.get(links["JSON"]).get_json()

    for frame in (csv, workbook, pd.DataFrame(document["rows"])):
        assert len(frame) == 10  # every TikTok ad, not the page's 3
        assert set(frame["Platform"]) == {"TikTok"}
        assert list(frame["Spend"]) == sorted(frame["Spend"], reverse=True)
        assert round(float(frame["Spend"].sum()), 2) == 45602.28
    assert "next" not in document
