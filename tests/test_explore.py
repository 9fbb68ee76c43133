"""Exploring a report without editing URLs, on the real server (Flask's client over the
simulator): Datasette's filter operators, ``_search``, facets, the filter form and its chips,
"N of M ads", the summaries' grand total, and the upstream's quality flags. Every expected
value is computed here from the golden CSV, by code of the test's own."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from urllib.parse import quote

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from datasets import one_account
from stract_reports.reports.filters import (
    BadFilter,
    Filter,
    case_hints,
    cell_test,
    operator_names,
    parse_filter,
)
from stract_reports.simulator import Simulator
from support import GOLDEN

OPERATORS = (
    "__exact, __not, __gt, __gte, __lt, __lte, __contains, __icontains, __startswith, "
    "__iexact, __in, __isblank"
)
Row = dict[str, str]


def golden_rows() -> list[Row]:
    """/geral's golden CSV, read by the csv module: every cell text, empty as ""."""
    text = GOLDEN.joinpath("geral.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def number(text: str) -> Decimal | None:
    return None if text == "" else Decimal(text)


def ads(client: FlaskClient, query: str) -> dict[str, object]:
    """/geral.json with ``query``: the document, checked to be a 200."""
    response = client.get(f"/geral.json?{query}")
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert isinstance(document, dict)
    return document


def spend_of(rows: list[dict[str, object]]) -> Decimal:
    return sum((Decimal(str(row["Spend"])) for row in rows if row["Spend"] is not None), Decimal())


# --- Operators ---------------------------------------------------------------------------------

CASES: list[tuple[str, Callable[[Row], bool]]] = [
    ("Spend__gt=100", lambda r: number(r["Spend"]) is not None and number(r["Spend"]) > 100),
    (
        "Spend__gte=6915.93",
        lambda r: r["Spend"] != "" and Decimal(r["Spend"]) >= Decimal("6915.93"),
    ),
    ("Clicks__lt=886", lambda r: r["Clicks"] != "" and int(r["Clicks"]) < 886),
    ("Clicks__lte=886", lambda r: r["Clicks"] != "" and int(r["Clicks"]) <= 886),
    ("Clicks=886.000", lambda r: r["Clicks"] == "886"),  # numbers as numbers
    ("Spend=6915.930", lambda r: r["Spend"] == "6915.93"),
    ("Country__not=BR", lambda r: r["Country"] != "BR"),
    ("Ad Name__contains=ncio 1", lambda r: "ncio 1" in r["Ad Name"]),
    ("Account Name__startswith=Ro", lambda r: r["Account Name"].startswith("Ro")),
    ("Account Name__icontains=RONALD", lambda r: "ronald" in r["Account Name"].casefold()),
    ("Platform__iexact=tiktok", lambda r: r["Platform"].casefold() == "tiktok"),
    (
        "Platform__in=TikTok,Google Analytics",
        lambda r: r["Platform"] in ("TikTok", "Google Analytics"),
    ),
    ("Clicks__in=886,8829", lambda r: r["Clicks"] in ("886", "8829")),
    ("Objective__isblank=1", lambda r: r["Objective"] == ""),
    ("Objective__isblank=0", lambda r: r["Objective"] != ""),
    (
        "Unique CTR__isblank=0&Platform__not=TikTok",
        lambda r: r["Unique CTR"] != "" and r["Platform"] != "TikTok",
    ),
    (
        "Status__exact=ACTIVE&Spend__lt=1000",
        lambda r: r["Status"] == "ACTIVE" and r["Spend"] != "" and Decimal(r["Spend"]) < 1000,
    ),
    ("Objective=", lambda r: r["Objective"] == ""),
    ("Account Name__gt=m", lambda r: r["Account Name"].casefold() > "m"),
    (
        "Cost Per Click__gt=0.8",
        lambda r: r["Cost Per Click"] != "" and Decimal(r["Cost Per Click"]) > Decimal("0.8"),
    ),
]


@pytest.mark.parametrize(("query", "keep"), CASES, ids=[q for q, _ in CASES])
def test_each_operator_keeps_exactly_the_rows_it_names(
    client: FlaskClient, query: str, keep: Callable[[Row], bool]
) -> None:
    expected = [row for row in golden_rows() if keep(row)]
    document = ads(client, quote(query, safe="=&,"))
    rows = document["rows"]
    assert isinstance(rows, list)

    assert [(r["Account Name"], r["Ad Name"]) for r in rows] == [
        (r["Account Name"] or None, r["Ad Name"] or None) for r in expected
    ]
    assert spend_of(rows) == sum((Decimal(r["Spend"]) for r in expected if r["Spend"]), Decimal())
    assert (document["filtered_row_count"], document["table_row_count"]) == (len(expected), 66)
    assert 0 < len(expected) < 66 or query in ("Country__not=BR",)


def test_numbers_compare_exactly_past_a_floats_digits(client: FlaskClient) -> None:
    # 6915.93 as a float is 6915.9300000000002...; the comparison is on exact decimals.
    above = ads(client, "Spend__gt=6915.929999999999999999999")["rows"]
    at = ads(client, "Spend__gt=6915.93")["rows"]
    assert isinstance(above, list) and isinstance(at, list)
    assert len(above) == len(at) + 1
    assert [r["Spend"] for r in above if r not in at] == [6915.93]


@pytest.mark.parametrize("path", ["/geral?Spend__between=1", "/geral.json?Clicks__gtt=5"])
def test_an_unknown_operator_is_a_400_naming_the_operators_before_any_call(
    client: FlaskClient, simulator: Simulator, path: str
) -> None:
    response = client.get(path)
    name = path.split("?")[1].split("=")[0]
    op = name.rsplit("__", 1)[1]

    assert response.status_code == 400
    assert response.get_json()["detail"] == f"{name}: no operator __{op}; operators: {OPERATORS}"
    assert simulator.stats()["total"] == 0


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("Spend__gt=lots", "Spend is a numeric column: 'lots' is not a number (Spend__gt)"),
        ("Clicks__in=1,x", "Clicks is a numeric column: 'x' is not a number (Clicks__in)"),
        (
            "Country__isblank=maybe",
            "Country__isblank must be 1 (blank) or 0 (not blank), not 'maybe'",
        ),
        (
            "Nope__gt=1",
            "filter: no column 'Nope'; columns: Platform, Account Name, Clicks, "
            "Impressions, Spend, Cost Per Click, Clickthrough Rate, Ad Name, Status, Objective, "
            "Country, Unique CTR",
        ),
        ("Spend__gt=", "Spend__gt needs a value to compare with"),
    ],
)
def test_a_filter_value_the_column_cannot_take_is_a_400(
    client: FlaskClient, query: str, detail: str
) -> None:
    response = client.get(f"/geral.json?{query}")
    assert (response.status_code, response.get_json()["detail"]) == (400, detail)


def test_search_keeps_the_ads_holding_every_word_in_any_case(client: FlaskClient) -> None:
    expected = [
        r
        for r in golden_rows()
        if all(
            any(
                w in v.casefold()
                for k, v in r.items()
                if k in ("Platform", "Account Name", "Ad Name", "Status", "Objective", "Country")
            )
            for w in ("anúncio", "us")
        )
    ]
    rows = ads(client, "_search=AN%C3%9ANCIO+us")["rows"]
    assert isinstance(rows, list)
    assert [(r["Account Name"], r["Ad Name"]) for r in rows] == [
        (r["Account Name"], r["Ad Name"]) for r in expected
    ]
    assert 0 < len(rows) < 66


# --- Nothing matched ---------------------------------------------------------------------------


def test_a_filter_matching_nothing_is_a_200_with_a_warning_naming_the_case(
    client: FlaskClient,
) -> None:
    document = ads(client, "Country=br&Platform=TikTok")

    assert (document["rows"], document["row_count"], document["filtered_row_count"]) == ([], 0, 0)
    assert document["warnings"] == [
        "no ad matches Country = “br” and Platform = “TikTok”",
        "Country has 'BR' (54 ads), which differs from 'br' only in case: Country__iexact=br "
        "ignores case",
    ]
    csv_answer = client.get("/geral.csv?Country=br&Platform=TikTok")
    assert csv_answer.status_code == 200
    assert csv_answer.data.count(b"\r\n") == 1  # the header row alone
    assert json.loads(csv_answer.headers["X-Report-Warnings"]) == document["warnings"]
    page = client.get("/geral.html?Country=br&Platform=TikTok").text
    assert 'id="warnings"' in page and "Country__iexact=br ignores case" in page
    assert '<span id="ad-count">0 of 66 ads</span>' in page


def test_nothing_matched_in_a_summary_says_so_too(client: FlaskClient) -> None:
    document = client.get("/geral/resumo.json?Account Name__contains=ronaldão").get_json()
    assert document["rows"] == []
    assert document["warnings"][0] == "no ad matches Account Name contains “ronaldão”"
    ronaldao = sum(r["Account Name"] == "Ronaldão" for r in golden_rows())
    assert document["warnings"][1:] == [
        f"Account Name has 'Ronaldão' ({ronaldao} ads), which differs from 'ronaldão' only in "
        "case: Account Name__icontains=ronaldão ignores case"
    ]


def test_case_hints_and_cell_tests_are_pure() -> None:
    assert case_hints(Filter("Country", "exact", "br"), ["BR", "US", None, "Br"]) == ["BR", "Br"]
    assert case_hints(Filter("Spend", "gt", "br"), ["BR"]) == []  # case is not why
    assert cell_test(parse_filter("X__in", "a,"), False, "X")(None) is True  # empty part
    assert cell_test(parse_filter("X__not", "a"), False, "X")(None) is True
    assert cell_test(parse_filter("X__gt", "5"), True, "X")(None) is False
    assert cell_test(parse_filter("X__contains", "5.5"), True, "X")(Decimal("15.50")) is True
    assert parse_filter("Weird__label__exact", "1") == Filter("Weird__label", "exact", "1")
    with pytest.raises(BadFilter):
        parse_filter("Spend__", "1")
    assert operator_names() == OPERATORS


# --- Facets ------------------------------------------------------------------------------------


def test_facets_count_the_selected_ads_and_sum_their_spend(client: FlaskClient) -> None:
    document = ads(client, "_facet=Country&_facet=Platform&Spend__gt=100")
    kept = [r for r in golden_rows() if r["Spend"] and Decimal(r["Spend"]) > 100]

    facets = document["facets"]
    assert isinstance(facets, dict) and list(facets) == ["Country", "Platform"]
    for column in ("Country", "Platform"):
        counts = Counter(r[column] for r in kept)
        results = facets[column]["results"]
        assert [(v["value"], v["count"]) for v in results] == sorted(
            counts.items(), key=lambda item: (-item[1], item[0].casefold())
        )
        for value in results:
            spend = sum(Decimal(r["Spend"]) for r in kept if r[column] == value["value"])
            assert Decimal(str(value["spend"])) == spend
            assert value["selected"] is False
        assert facets[column]["truncated"] is False
    br = facets["Country"]["results"][0]
    assert br["toggle_url"] == "/geral.json?_facet=Country&_facet=Platform&Spend__gt=100&Country=BR"


def test_a_facet_link_adds_its_filter_and_then_takes_it_away(client: FlaskClient) -> None:
    first = ads(client, "_facet=Country")
    us = next(v for v in first["facets"]["Country"]["results"] if v["value"] == "US")
    narrowed = client.get(us["toggle_url"]).get_json()

    assert narrowed["filtered_row_count"] == us["count"] == 12
    (again,) = narrowed["facets"]["Country"]["results"]
    assert (again["value"], again["selected"]) == ("US", True)
    assert again["toggle_url"] == "/geral.json?_facet=Country"


def test_a_facet_on_an_unknown_column_is_a_400(client: FlaskClient) -> None:
    response = client.get("/geral.json?_facet=Colour")
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("_facet: no column 'Colour'; columns: ")


def test_the_html_page_offers_facets_of_text_columns_with_few_values(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    dataset = one_account(
        "Acme",
        [
            {"name": f"ad {i}", "country": "BR" if i % 3 else "US", "spend": i, "clicks": 1}
            for i in range(40)
        ],
        labels=[
            ("Ad Name", "name"),
            ("Country", "country"),
            ("Spend", "spend"),
            ("Clicks", "clicks"),
        ],
    )
    client = make_app(make_simulator(dataset)).test_client()
    page = client.get("/hostile.html").text

    offered = re.findall(r'<details class="facet" data-column="([^"]+)">', page)
    assert offered == ["Country"]  # 40 ad names are too many; one account, one platform: no choice
    assert '<summary>Country <span class="note">2 values</span></summary>' in page
    brazil = [i for i in range(40) if i % 3]
    link = f'<li><a href="/hostile.html?Country=BR">BR</a> <span class="count">{len(brazil)}</span>'
    assert f"{link}</li>" in page  # offered: counts only
    spent = client.get("/hostile.html?_facet=Country").text  # asked: with the Spend
    assert (
        '<li><a href="/hostile.html?_facet=Country&amp;Country=BR">BR</a> '
        f'<span class="count">{len(brazil)}</span> <span class="spend">{sum(brazil):,}.00</span>'
    ) in spent
    asked = client.get("/hostile.html?_facet=Ad Name").text
    assert '<details class="facet" open data-column="Ad Name">' in asked
    assert '<summary>Ad Name <span class="note">30+ values</span></summary>' in asked


# --- The form and its chips --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "location"),
    [
        (
            "Platform=TikTok&_next=3&_filter_column=Spend&_filter_op=gt&_filter_value=100",
            "/geral.html?Platform=TikTok&Spend__gt=100",
        ),
        (
            "_filter_column=Country&_filter_op=exact&_filter_value=BR&_search=",
            "/geral.html?Country=BR",
        ),
        (
            "_filter_column=Status&_filter_op=isblank&_filter_value=",
            "/geral.html?Status__isblank=1",
        ),
        (
            "_sort=Spend&_filter_column=Spend&_filter_op=gt&_filter_value=&_search=an%C3%BAncio",
            "/geral.html?_sort=Spend&_search=an%C3%BAncio",
        ),
    ],
)
def test_the_filter_form_leads_to_the_filters_own_url(
    client: FlaskClient, simulator: Simulator, query: str, location: str
) -> None:
    response = client.get(f"/geral.html?{query}")

    assert response.status_code == 303
    assert response.headers["Location"] == location
    assert simulator.stats()["total"] == 0


def test_the_form_refuses_an_unknown_operator(client: FlaskClient) -> None:
    response = client.get("/geral.html?_filter_column=Spend&_filter_op=near&_filter_value=1")
    assert response.status_code == 400
    assert "_filter_op: no operator 'near'" in unescape(response.text)


def test_the_page_has_the_form_chips_and_counts(client: FlaskClient) -> None:
    page = client.get(
        "/geral.html?Platform=TikTok&Spend__gt=1000&_search=an%C3%BAncio&_size=5"
    ).text

    form = page[page.index('<form class="explore"') : page.index("</form>")]
    assert 'method="get" action="/geral.html"' in form
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    assert hidden == [("Platform", "TikTok"), ("Spend__gt", "1000"), ("_size", "5")]
    assert '<input type="search" name="_search" value="anúncio" size="14">' in form
    assert "<option>Unique CTR</option>" in form and '<option value="isblank">' in form
    chips = re.findall(r'<li class="chip">(.*?) <a href="([^"]+)"', page)
    assert [(unescape(text), unescape(url)) for text, url in chips] == [
        (
            "Platform = “TikTok”",
            "/geral.html?Spend__gt=1000&_search=anúncio&_size=5".replace("anúncio", "an%C3%BAncio"),
        ),
        ("Spend > “1000”", "/geral.html?Platform=TikTok&_search=an%C3%BAncio&_size=5"),
        ("search “anúncio”", "/geral.html?Platform=TikTok&Spend__gt=1000&_size=5"),
    ]
    kept = [r for r in golden_rows() if r["Platform"] == "TikTok" and Decimal(r["Spend"]) > 1000]
    assert f'<span id="ad-count">{len(kept)} of 66 ads</span>' in page


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/geral.html", "66 of 66 ads"),
        ("/meta_ads.html?Country=US", "8 of 42 ads"),
        ("/geral/resumo.html?Country=US", "12 of 66 ads"),
        ("/tiktok_insights/resumo.html", "10 of 10 ads"),
    ],
)
def test_every_html_page_says_how_many_ads_of_how_many(
    client: FlaskClient, path: str, shown: str
) -> None:
    assert f'<span id="ad-count">{shown}</span>' in client.get(path).text


# --- The grand total of a summary ----------------------------------------------------------------


def test_summaries_end_with_a_grand_total_of_recomputed_ratios(client: FlaskClient) -> None:
    page = client.get("/geral/resumo.html").text
    foot = page[page.index("<tfoot>") : page.index("</tfoot>")]
    values = re.findall(r'data-value="([^"]+)"', foot)
    rows = golden_rows()
    clicks = sum(int(r["Clicks"]) for r in rows)
    impressions = sum(int(r["Impressions"]) for r in rows)
    spend = sum(Decimal(r["Spend"]) for r in rows)

    assert '<th scope="row">Grand total</th>' in foot
    assert values == [
        str(clicks),
        str(impressions),
        str(spend),
        str((spend / clicks).quantize(Decimal("0.000001"))),
        str((Decimal(clicks) / impressions).quantize(Decimal("0.000001"))),
    ]
    summed = client.get("/geral/resumo.html?ratios=sum").text
    foot = summed[summed.index("<tfoot>") : summed.index("</tfoot>")]

    def total(column: str) -> str:
        return str(sum((Decimal(r[column]) for r in rows if r[column]), Decimal()))

    assert [str(Decimal(v)) for v in re.findall(r'data-value="([^"]+)"', foot)] == [
        str(clicks),
        str(impressions),
        str(spend),
        *(total(c) for c in ("Cost Per Click", "Clickthrough Rate", "Unique CTR")),
    ]


# --- Quality flags -----------------------------------------------------------------------------


def flagged_by_test() -> tuple[list[Row], list[Row]]:
    """Rows whose served CPC is more than a cent from Spend ÷ Clicks, and rows with more
    clicks than impressions, as the test reads the golden CSV."""
    rows = golden_rows()
    cpc = [
        r
        for r in rows
        if r["Cost Per Click"]
        and r["Clicks"] not in ("", "0")
        and abs(Decimal(r["Cost Per Click"]) - Decimal(r["Spend"]) / Decimal(r["Clicks"]))
        > Decimal("0.01")
    ]
    clicks = [r for r in rows if int(r["Clicks"]) > int(r["Impressions"])]
    return cpc, clicks


def accounts_named(rows: list[Row]) -> str:
    names = list(dict.fromkeys(r["Account Name"] for r in rows))
    return f"{', '.join(names[:3])} and {len(names) - 3} more"


def test_every_format_warns_of_the_upstreams_contradictions(client: FlaskClient) -> None:
    cpc, clicks = flagged_by_test()
    expected = [
        f"Cost Per Click: {len(cpc)} ads serve a value that differs from Spend ÷ Clicks by more "
        f"than 0.01 (accounts {accounts_named(cpc)}); shown as the upstream serves them",
        f"Clicks: {len(clicks)} ads have more clicks than impressions (accounts "
        f"{accounts_named(clicks)}); shown as the upstream serves them",
    ]
    assert len(cpc) == 51 and len(clicks) == 37

    assert ads(client, "")["warnings"] == expected
    for path in ("/geral", "/geral.tsv", "/geral.ndjson", "/geral.xlsx", "/geral/resumo"):
        header = client.get(path).headers["X-Report-Warnings"]
        assert header.isascii() and json.loads(header) == expected, path
    page = client.get("/geral.html").text
    assert "Cost Per Click: 51 ads serve a value that differs from Spend ÷ Clicks" in page
    # A slice counts its own ads: TikTok's.
    tiktok = ads(client, "Platform=TikTok")["warnings"]
    assert tiktok[0].startswith(
        f"Cost Per Click: {sum(r['Platform'] == 'TikTok' for r in cpc)} ads serve"
    )


def test_flags_add_a_column_naming_each_rows_contradictions(client: FlaskClient) -> None:
    cpc, clicks = flagged_by_test()
    answer = client.get("/geral.csv?_flags=1")
    frame = pd.read_csv(io.BytesIO(answer.data), keep_default_na=False)

    assert list(frame.columns)[-1] == "Flags"
    for (_, row), golden in zip(frame.iterrows(), golden_rows(), strict=True):
        marks = []
        if golden in cpc:
            marks.append("Cost Per Click ≠ Spend ÷ Clicks")
        if golden in clicks:
            marks.append("Clicks > Impressions")
        assert row["Flags"] == "; ".join(marks)
    assert (frame["Flags"] != "").sum() == len({id(r) for r in cpc} | {id(r) for r in clicks})
    sorted_page = client.get("/geral.json?_flags=1&_col=Ad Name,Flags&_sort_desc=Flags&_size=1")
    assert (
        sorted_page.get_json()["rows"][0]["Flags"]
        == "Cost Per Click ≠ Spend ÷ Clicks; Clicks > Impressions"
    )


def test_flags_mark_ad_rows_only(client: FlaskClient) -> None:
    response = client.get("/geral/resumo?_flags=1")
    assert response.status_code == 400
    assert response.get_json()["detail"] == "_flags marks ad rows: ask /geral?_flags=1"
    assert (
        client.get("/geral?_flags=maybe").get_json()["detail"]
        == "_flags must be 1 or 0, not 'maybe'"
    )
