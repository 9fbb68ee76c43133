"""The URLs the server answers: explicit report routes, the error shape of everything else,
how a report is answered (media type, download, gzip, ETag), and links that stay on this site."""

from __future__ import annotations

import gzip
import logging
import re
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from threading import Thread
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from datasets import fields
from hostile import Call, HostileUpstream, Reply
from stract_reports.formats import FORMATS
from stract_reports.simulator import Dataset, FaultRule, SimAccount, SimPlatform, Simulator
from support import closed_port_url, golden, serving

# What Chromium sends when a person follows a link or types a URL.
BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
UNSUPPORTED = "use .csv (the default), .json, .html, .xlsx, .tsv or .ndjson"


def no_calls(sim: Simulator) -> bool:
    """Whether the simulator has answered no API call since it started (or was reset)."""
    return bool(sim.stats()["total"] == 0)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING (or worse) lines logged."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- Paths that are no report cost nothing upstream -------------------------------------------

NOT_REPORTS = [
    "/.env",
    "/static/x",
    "/static/style.css",
    "/geral/resumo/x",
    "/geral/detalhe",
    "/wp-admin/setup-config.php",
    "/geral//resumo",
    "/geral.",
    "/geral//",
    "/geral/resumo//",
    "/a/b/c",
]


@pytest.mark.parametrize("path", NOT_REPORTS)
def test_a_path_that_is_no_report_is_a_json_404_without_an_upstream_call(
    client: FlaskClient, simulator: Simulator, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "error": "not found",
        "detail": "no report or page at this path; / lists every report",
        "status": 404,
    }
    assert no_calls(simulator)
    assert warnings(caplog) == []


@pytest.mark.parametrize(
    ("path", "suffix"),
    [
        ("/wp-login.php", "php"),
        ("/favicon.ico", "ico"),
        ("/geral.xls", "xls"),
        ("/geral.CSV", "CSV"),
        ("/geral.txt", "txt"),
        ("/geral/resumo.Json", "Json"),
        ("/meta_ads.tar.gz", "tar.gz"),
        ("/nope.html5", "html5"),
    ],
)
def test_an_unsupported_format_is_a_404_naming_the_formats_without_an_upstream_call(
    client: FlaskClient,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
    path: str,
    suffix: str,
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.get_json() == {
        "error": "unsupported format",
        "detail": f"no format {suffix!r}; {UNSUPPORTED}",
        "status": 404,
    }
    assert no_calls(simulator)
    assert warnings(caplog) == []


@pytest.mark.parametrize("path", ["/.env", "/wp-login.php", "/geral.xls"])
def test_paths_that_are_no_report_are_404_even_when_the_upstream_is_down(
    make_app: Callable[..., Flask], path: str
) -> None:
    app = make_app(SimpleNamespace(url=closed_port_url()), retries=0)

    assert app.test_client().get(path).status_code == 404


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/geral/", "/geral"),
        ("/geral/?Platform=TikTok&_size=2", "/geral?Platform=TikTok&_size=2"),
        ("/geral/resumo/?_by=Country", "/geral/resumo?_by=Country"),
        ("/meta_ads.json/?_col=Clicks", "/meta_ads.json?_col=Clicks"),
        ("/geral/resumo.html/", "/geral/resumo.html"),
        ("/geral/?Ad+Name=a%26b&x=%C3%A9", "/geral?Ad+Name=a%26b&x=%C3%A9"),
        ("/%5Cevil.example/", "/%5Cevil.example"),  # "/\\evil.example" would leave the site
        ("/no_such_platform/", "/no_such_platform"),  # the 404 comes from the report itself
    ],
)
def test_a_trailing_slash_is_a_308_to_the_report_keeping_the_query(
    client: FlaskClient, simulator: Simulator, path: str, location: str
) -> None:
    response = client.get(path)

    assert response.status_code == 308
    assert response.headers["Location"] == location
    assert response.data == b""
    assert no_calls(simulator)


def test_following_the_slash_redirect_over_http_gives_the_report(app: Flask) -> None:
    with serving(app) as base:
        followed = requests.get(f"{base}/geral/?Platform=TikTok&_size=3", timeout=10)
        direct = requests.get(f"{base}/geral?Platform=TikTok&_size=3", timeout=10)
    assert [r.status_code for r in followed.history] == [308]
    assert followed.url == f"{base}/geral?Platform=TikTok&_size=3"
    assert (followed.status_code, followed.content) == (200, direct.content)
    assert len(followed.text.splitlines()) == 4


@pytest.mark.parametrize("keys", [(), ("k3y-Access-0123456789abcdef",)])
def test_robots_txt_disallows_everything_without_upstream_or_key(
    make_app: Callable[..., Flask], keys: tuple[str, ...]
) -> None:
    app = make_app(SimpleNamespace(url=closed_port_url()), retries=0, access_keys=keys)
    response = app.test_client().get("/robots.txt")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.data == b"User-agent: *\nDisallow: /\n"


def test_robots_txt_costs_no_upstream_call(client: FlaskClient, simulator: Simulator) -> None:
    assert client.get("/robots.txt").status_code == 200
    assert no_calls(simulator)


def test_only_an_unknown_platform_asks_for_the_platform_list(
    client: FlaskClient, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.get("/robots")

    assert response.status_code == 404
    assert response.get_json() == {
        "error": "unknown platform",
        "detail": "no platform 'robots'; valid platforms: meta_ads, ga4, tiktok_insights",
        "status": 404,
    }
    assert simulator.stats()["requests"] == {
        "platforms": 1,
        "accounts": 0,
        "fields": 0,
        "insights": 0,
    }
    assert warnings(caplog) == []  # a client's mistake is logged at INFO, not as a warning
    assert "GET /robots -> 404: no platform 'robots'" in caplog.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/geral"), ("PUT", "/geral/resumo.json"), ("DELETE", "/"), ("POST", "/healthz")],
)
def test_a_wrong_method_is_a_405_with_allow(
    client: FlaskClient, simulator: Simulator, method: str, path: str
) -> None:
    response = client.open(path, method=method)

    assert response.status_code == 405
    assert sorted(response.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]
    assert response.get_json() == {
        "error": "method not allowed",
        "detail": "The method is not allowed for the requested URL.",
        "status": 405,
    }
    assert no_calls(simulator)


@pytest.mark.parametrize("path", ["/geral", "/nope/x"])
def test_an_over_long_url_is_a_json_414_without_an_upstream_call(
    client: FlaskClient, simulator: Simulator, path: str
) -> None:
    response = client.get(f"{path}?x={'a' * 4000}")

    assert response.status_code == 414
    assert response.get_json() == {
        "error": "request uri too long",
        "detail": f"the URL has {len(path) + 4003} characters; the limit is 4000",
        "status": 414,
    }
    assert no_calls(simulator)


def test_a_long_url_within_the_limit_is_answered(client: FlaskClient) -> None:
    response = client.get(f"/geral?Country={'a' * 3985}")

    header = golden("geral").split(b"\r\n")[0] + b"\r\n"
    assert (response.status_code, response.data) == (200, header)  # no ad is in that country


@pytest.mark.parametrize(
    ("path", "escaped"),
    [("/ab%00cd", "ab\\x00cd"), ("/ab%0Acd%0D", "ab\\ncd\\r"), ("/x%1B[31my", "x\\x1b[31my")],
)
def test_control_characters_of_the_path_never_reach_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, path: str, escaped: str
) -> None:
    caplog.set_level(logging.DEBUG)

    assert client.get(path).status_code == 404

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("stract"))
    assert f"GET /{escaped} -> 404" in logged
    assert not [ch for ch in logged if ch not in "\n" and not ch.isprintable()]


def test_healthz_never_asks_the_upstream_the_json_index_once_the_html_index_its_chart(
    client: FlaskClient, simulator: Simulator
) -> None:
    assert client.get("/healthz").status_code == 200
    assert no_calls(simulator)

    assert client.get("/", headers={"Accept": "application/json"}).status_code == 200
    assert simulator.stats()["total"] == 1
    simulator.reset()
    # The HTML index also charts /geral/resumo: the platform list, then that report's reads.
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    one_report = simulator.stats()["total"] - 1
    simulator.reset()
    assert client.get("/geral/resumo").status_code == 200
    assert simulator.stats()["total"] == one_report


# --- /readyz -------------------------------------------------------------------------------------


def test_readyz_is_503_when_the_upstream_is_down(make_app: Callable[..., Flask]) -> None:
    url = closed_port_url()
    app = make_app(SimpleNamespace(url=url), retries=0)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        "error": "not ready",
        "detail": f"upstream unavailable: platform list: connection failed ({url}/platforms)",
        "status": 503,
    }


def test_readyz_is_503_when_the_upstream_fails(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    simulator.faults = [FaultRule("502")]

    response = make_app(simulator, retries=0).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["detail"] == (
        f"upstream unavailable: platform list: HTTP 502 ({simulator.url}/platforms)"
    )


def test_readyz_is_503_while_the_upstream_pool_is_saturated(
    make_app: Callable[..., Flask], make_hostile: Callable[..., HostileUpstream]
) -> None:
    # One upstream slot, held by a report's account list until the test lets it go: however
    # slow the machine, the slot is busy for all of readyz's own 2 s (views.READY_BUDGET).
    release = threading.Event()

    def hold_accounts(call: Call) -> Reply | None:
        if call.endpoint == "accounts":
            release.wait(20)
        return None

    upstream = make_hostile(hold_accounts)
    app = make_app(upstream, concurrency=1, timeout=20.0, deadline=20.0, retries=0)
    client = app.test_client()
    busy = Thread(target=client.get, args=("/geral",))
    busy.start()
    try:
        until = time.monotonic() + 10
        while upstream.calls["accounts"] == 0:  # the held call has the one slot
            assert time.monotonic() < until
            time.sleep(0.01)

        response = client.get("/readyz")

        assert response.status_code == 503
        assert response.get_json()["error"] == "not ready"
        assert "platform list" in response.get_json()["detail"]
    finally:
        release.set()
        busy.join(20)
    assert client.get("/healthz").status_code == 200


# --- How a report is answered ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/geral", "/geral.csv"])
def test_a_browser_is_shown_the_csv_as_text(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == golden("geral")
    assert re.fullmatch(
        r'inline; filename="stract-geral-\d{8}T\d{4}Z\.csv"', _disposition(response)
    )
    assert {"Accept", "Accept-Encoding"} <= set(response.vary)


@pytest.mark.parametrize("accept", [None, "*/*", "text/csv", "text/csv,text/html;q=0.9"])
def test_programs_get_text_csv(client: FlaskClient, accept: str | None) -> None:
    response = client.get("/geral", headers={"Accept": accept} if accept else {})

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data == golden("geral")
    assert "Accept" in response.vary


def test_a_browser_asking_a_download_gets_the_csv_file(client: FlaskClient) -> None:
    response = client.get("/geral.csv?download=1", headers={"Accept": BROWSER})

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert _disposition(response).startswith("attachment; ")


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "No", "FALSE"])
def test_download_false_words_answer_inline(client: FlaskClient, word: str) -> None:
    response = client.get(f"/geral/resumo?download={word}")

    assert _disposition(response).startswith("inline; ")
    assert response.data == golden("geral/resumo")


@pytest.mark.parametrize("query", ["download", "download=", "download=1", "download=yes"])
def test_download_true_words_and_a_bare_switch_download(client: FlaskClient, query: str) -> None:
    assert _disposition(client.get(f"/geral/resumo?{query}")).startswith("attachment; ")


def test_a_download_word_that_is_no_yes_or_no_is_a_400(
    client: FlaskClient, simulator: Simulator
) -> None:
    response = client.get("/geral?download=maybe")

    assert response.status_code == 400
    assert response.get_json()["detail"] == (
        "download must be one of 1, true, yes, on, 0, false, no, off (or bare ?download), "
        "not 'maybe'"
    )
    assert no_calls(simulator)


def test_the_pt_br_download_is_named_apart_from_the_plain_csv(client: FlaskClient) -> None:
    plain = _disposition(client.get("/geral/resumo?download=1"))
    brazilian = _disposition(client.get("/geral/resumo?download=1&excel=br"))

    assert re.fullmatch(r'attachment; filename="stract-geral-resumo-\d{8}T\d{4}Z\.csv"', plain)
    assert re.fullmatch(
        r'attachment; filename="stract-geral-resumo-excel-br-\d{8}T\d{4}Z\.csv"', brazilian
    )


SLICES = [
    "Platform=TikTok",
    "Platform=Google+Analytics",
    "Platform=TikTok&_col=Ad+Name,Spend",
    "Platform=TikTok&_sort_desc=Spend",
    "Platform=TikTok&_size=3",
    "_by=Country&_size=1&_next=1",
    "Country=",
    "_by=Country",
    "ratios=sum",
]


def test_every_slice_downloads_under_a_name_of_its_own(client: FlaskClient) -> None:
    pattern = r'attachment; filename="stract-geral-resumo-([0-9a-f]{8})-\d{8}T\d{4}Z\.csv"'
    digests = []
    for query in SLICES:
        response = client.get(f"/geral/resumo?{query}&download=1")
        assert response.status_code == 200, query
        found = re.fullmatch(pattern, _disposition(response))
        assert found, _disposition(response)
        digests.append(found[1])
    assert len(set(digests)) == len(SLICES)
    # The same slice, the same name; the download switch and empty options change nothing.
    again = _disposition(client.get("/geral/resumo?download=yes&Platform=TikTok&_sort="))
    assert f"-{digests[0]}-" in again


def test_the_json_shape_and_the_excel_preset_keep_names_apart(client: FlaskClient) -> None:
    names = {
        _disposition(client.get(path))
        for path in (
            "/geral.json?download=1",
            "/geral.json?download=1&_shape=array",
            "/geral.csv?download=1",
            "/geral.csv?download=1&excel=1",
            "/geral.csv?download=1&excel=br",
        )
    }
    assert len(names) == 5


@pytest.mark.parametrize(("path", "fmt"), [("/geral.json", "json"), ("/ga4/resumo.html", "html")])
def test_the_excel_preset_on_json_or_html_is_refused(
    client: FlaskClient, simulator: Simulator, path: str, fmt: str
) -> None:
    response = client.get(f"{path}?excel=br")

    assert response.status_code == 400
    assert response.mimetype == ("text/html" if fmt == "html" else "application/json")
    assert "excel=br applies to .csv only, not ." + fmt in response.get_data(as_text=True)
    assert no_calls(simulator)


@pytest.mark.parametrize("path", ["/geral", "/geral.json", "/meta_ads.html"])
def test_gzip_when_the_client_accepts_it(client: FlaskClient, path: str) -> None:
    plain = client.get(path)
    packed = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})

    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.vary
    assert len(packed.data) < len(plain.data) / 3
    body = gzip.decompress(packed.data)
    if path == "/geral":
        assert body == plain.data == golden("geral")
    else:  # the same document, generated a moment apart
        assert _without_time(body) == _without_time(plain.data)


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br"])
def test_no_gzip_unless_accepted(client: FlaskClient, accept: str) -> None:
    response = client.get("/geral", headers={"Accept-Encoding": accept})

    assert "Content-Encoding" not in response.headers
    assert response.data == golden("geral")


def test_small_answers_are_not_compressed(client: FlaskClient) -> None:
    response = client.get("/ga4/resumo.json?_col=Spend", headers={"Accept-Encoding": "gzip"})

    assert len(response.data) < 1024
    assert "Content-Encoding" not in response.headers


def test_csv_has_a_strong_etag_and_a_match_is_304(client: FlaskClient) -> None:
    first = client.get("/geral/resumo")
    etag = first.headers["ETag"]

    again = client.get("/geral/resumo", headers={"If-None-Match": etag})

    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert (again.status_code, again.data) == (304, b"")
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "Content-Type" not in again.headers


def test_json_and_html_etags_are_weak_and_ignore_the_generation_time(
    client: FlaskClient,
) -> None:
    first, second = client.get("/geral.json"), client.get("/geral.json")
    tag = first.headers["ETag"]

    assert re.fullmatch(r'W/"[0-9a-f]{32}"', tag)
    assert second.headers["ETag"] == tag
    assert client.get("/geral.json", headers={"If-None-Match": tag}).status_code == 304
    page = client.get("/geral.html")
    assert page.headers["ETag"].startswith('W/"')
    assert page.headers["ETag"] != tag


def test_an_html_304_carries_no_new_csp_nonce(client: FlaskClient) -> None:
    tag = client.get("/geral.html").headers["ETag"]

    again = client.get("/geral.html", headers={"If-None-Match": tag})

    assert again.status_code == 304
    assert "Content-Security-Policy" not in again.headers


def test_gzip_has_its_own_strong_etag_and_either_variant_revalidates(client: FlaskClient) -> None:
    plain = client.get("/geral").headers["ETag"]
    packed = client.get("/geral", headers={"Accept-Encoding": "gzip"}).headers["ETag"]

    assert packed == plain[:-1] + '-gz"'
    for tag in (plain, packed):
        for encoding in ("gzip", "identity"):
            response = client.get(
                "/geral", headers={"If-None-Match": tag, "Accept-Encoding": encoding}
            )
            assert response.status_code == 304
            assert response.headers["ETag"] == (packed if encoding == "gzip" else plain)


@pytest.mark.parametrize(
    "other",
    [
        "/geral/resumo?ratios=sum",
        "/geral/resumo?excel=br",
        "/geral/resumo.json",
        "/meta_ads/resumo",
    ],
)
def test_a_different_answer_has_a_different_etag(client: FlaskClient, other: str) -> None:
    tag = client.get("/geral/resumo").headers["ETag"]
    response = client.get(other, headers={"If-None-Match": tag})

    assert response.status_code == 200
    assert response.headers["ETag"] != tag


def test_the_browser_view_has_its_own_etag(client: FlaskClient) -> None:
    tag = client.get("/geral").headers["ETag"]

    assert client.get("/geral", headers={"Accept": BROWSER}).headers["ETag"] != tag


def test_new_upstream_data_changes_the_etag(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> None:
    sim = make_simulator(_dataset(["alpha"]))
    client = make_app(sim).test_client()
    tag = client.get("/alpha.json").headers["ETag"]
    sim.dataset.platforms[0].accounts[0].insights[0]["clicks"] = 8  # type: ignore[index]

    response = client.get("/alpha.json", headers={"If-None-Match": tag})

    assert response.status_code == 200
    assert response.get_json()["rows"][0]["Clicks"] == 8
    assert response.headers["ETag"] != tag


def test_errors_are_never_kept(make_app: Callable[..., Flask], simulator: Simulator) -> None:
    simulator.faults = [FaultRule("500")]
    response = make_app(simulator, retries=0).test_client().get("/geral")

    assert response.status_code == 502
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers


# --- Links stay on this site ---------------------------------------------------------------

# Values a path segment can hold: each must still be escaped whole in every link.
HOSTILE_PLATFORMS = [
    "javascript:alert(1)",
    "\\\\evil",
    "https:evil",
    "%2F%2Fevil",
    "a b?c#d",
]
# Values no segment of ours can hold (a slash, a dot): refused, never linked.
UNADDRESSABLE_PLATFORMS = ["/evil.example", "//evil.example", "https://evil.example/x", ".."]


def _dataset(values: list[str]) -> Dataset:
    return Dataset(
        [
            SimPlatform(
                text=f"Platform {i}",
                value=value,
                fields=fields(("Clicks", "clicks")),
                accounts=[SimAccount("1", "Acct", f"t{i}", [{"id": 1, "clicks": 3}])],
            )
            for i, value in enumerate(values)
        ]
    )


def _on_this_site(link: str) -> bool:
    """Whether a link resolves to this server, whatever its base page."""
    parts = urlsplit(link)
    here = "http://127.0.0.1:5000/geral/resumo.html"
    return (
        parts.scheme == ""
        and parts.netloc == ""
        and link.startswith("/")
        and not link.startswith(("//", "/\\"))
        and urlsplit(urljoin(here, link)).netloc == "127.0.0.1:5000"
    )


def test_index_links_are_relative_and_escaped_whatever_the_platform_values(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> None:
    client = make_app(make_simulator(_dataset(HOSTILE_PLATFORMS))).test_client()
    headers = {"Host": "attacker.example", "Accept": "application/json"}

    body = client.get("/", headers=headers).get_json()
    page = client.get("/", headers={**headers, "Accept": "text/html"}).get_data(as_text=True)

    links = [url for r in body["reports"] for key, url in r.items() if key != "report"]
    hrefs = _hrefs(page)
    assert len(links) == (len(HOSTILE_PLATFORMS) + 1) * 2 * len(FORMATS)
    assert [link for link in links + hrefs if not _on_this_site(link)] == []
    assert "attacker.example" not in str(body) + page
    assert body["reports"][2] == {
        "report": "javascript:alert(1)",
        **{fmt: f"/javascript%3Aalert%281%29.{fmt}" for fmt in FORMATS},
    }
    assert body["reports"][5]["csv"] == "/%5C%5Cevil/resumo.csv"
    assert body["reports"][8]["csv"] == "/%252F%252Fevil.csv"


@pytest.mark.parametrize("value", UNADDRESSABLE_PLATFORMS)
def test_the_index_links_no_platform_whose_value_no_path_can_hold(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator], value: str
) -> None:
    client = make_app(make_simulator(_dataset(["meta_ads", value]))).test_client()

    body = client.get("/", headers={"Accept": "application/json"}).get_json()
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)

    assert [link["report"] for link in body["reports"]] == ["geral", "geral/resumo"]
    assert "cannot be a report path here" in body["platforms_error"]
    assert [link for link in _hrefs(page) if not _on_this_site(link)] == []
    assert "evil" not in " ".join(_hrefs(page))


def test_index_links_lead_to_the_reports(client: FlaskClient) -> None:
    body = client.get("/", headers={"Accept": "application/json"}).get_json()

    assert body["reports"][3] == {
        "report": "meta_ads/resumo",
        **{fmt: f"/meta_ads/resumo.{fmt}" for fmt in FORMATS},
    }
    for report in body["reports"]:
        for fmt in FORMATS:
            assert client.get(report[fmt]).status_code == 200


def test_a_platform_value_cannot_break_the_download_header(
    make_app: Callable[..., Flask], make_simulator: Callable[..., Simulator]
) -> None:
    client = make_app(make_simulator(_dataset(['a"b\r\nSet-Cookie: x=1']))).test_client()

    response = client.get("/a%22b%0D%0ASet-Cookie%3A%20x%3D1/resumo?download=1")

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert re.fullmatch(
        r'attachment; filename="stract-a_b__Set-Cookie__x_1-resumo-\d{8}T\d{4}Z\.csv"',
        _disposition(response),
    )


def _hrefs(page: str) -> list[str]:
    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(value or "" for name, value in attrs if name == "href")

    Links().feed(page)
    return [href for href in found if not href.startswith(("mailto:", "https://www.linkedin"))]


# --- Over real HTTP ------------------------------------------------------------------------


def test_every_answer_over_http_has_the_documented_shape(app: Flask) -> None:
    with serving(app) as base:
        answers = {
            path: requests.request(method, base + path, timeout=10)
            for method, path in [
                ("GET", "/.env"),
                ("GET", "/static/x"),
                ("POST", "/geral"),
                ("GET", "/geral.CSV"),
                ("GET", "/geral?" + "x" * 5000),
            ]
        }

    for path, response in answers.items():
        assert response.headers["Content-Type"] == "application/json", path
        body = response.json()
        assert set(body) == {"error", "detail", "status"}, path
        assert body["status"] == response.status_code, path


def _disposition(response: object) -> str:
    return str(response.headers["Content-Disposition"])  # type: ignore[attr-defined]


def _without_time(body: bytes) -> bytes:
    """The body without what differs between two answers: the time, an HTML page's nonce."""
    body = re.sub(rb'nonce="[^"]+"', b"", body)
    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"", body)
