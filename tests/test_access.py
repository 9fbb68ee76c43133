"""Access keys on the real server: Bearer or ?key=, 401 otherwise, a cookie for browsers, and
the key in no body, header or log line."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from served import Served, serve
from stract_reports.access import COOKIE, Throttle, client_of, cookie_value, is_loopback
from stract_reports.simulator import Simulator
from support import CLI, golden

KEY = "k3y-Access-0123456789abcdef"
OTHER_KEY = "second-key-zyxwvu987"
WRONG = "not-the-key-at-all-42"


@pytest.fixture
def served(simulator: Simulator) -> Iterator[Served]:
    with serve(simulator.url, env={"STRACT_ACCESS_KEYS": f"{KEY}, {OTHER_KEY}"}) as server:
        yield server


def _assert_unauthorized(response: requests.Response, detail: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stract-reports"'
    assert response.json() == {"error": "unauthorized", "detail": detail, "status": 401}
    assert "Set-Cookie" not in response.headers


@pytest.mark.serve
def test_requests_without_a_valid_key_answer_401(served: Served) -> None:
    missing = "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY"
    for path in ("/", "/geral", "/geral.json", "/readyz", "/no/such/report"):
        _assert_unauthorized(requests.get(served.base + path, timeout=10), missing)
    invalid = "the access key is not valid"
    bearer = {"Authorization": f"Bearer {WRONG}"}
    _assert_unauthorized(requests.get(f"{served.base}/geral", headers=bearer, timeout=10), invalid)
    _assert_unauthorized(requests.get(f"{served.base}/geral?key={WRONG}", timeout=10), invalid)
    _assert_unauthorized(requests.get(f"{served.base}/geral?key=", timeout=10), invalid)
    basic = {"Authorization": f"Basic {KEY}"}
    _assert_unauthorized(requests.get(f"{served.base}/geral", headers=basic, timeout=10), missing)
    forged = {"Cookie": f"{COOKIE}={cookie_value(WRONG)}"}
    _assert_unauthorized(requests.get(f"{served.base}/geral", headers=forged, timeout=10), invalid)
    # The key itself is not a valid cookie: the cookie is derived from it.
    as_cookie = {"Cookie": f"{COOKIE}={KEY}"}
    _assert_unauthorized(
        requests.get(f"{served.base}/geral", headers=as_cookie, timeout=10), invalid
    )


@pytest.mark.serve
def test_healthz_needs_no_key(served: Served) -> None:
    response = requests.get(f"{served.base}/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.serve
def test_every_configured_key_opens_every_report_by_bearer_or_query(served: Served) -> None:
    for key in (KEY, OTHER_KEY):
        bearer = {"Authorization": f"Bearer {key}"}
        response = requests.get(f"{served.base}/geral", headers=bearer, timeout=10)
        assert response.status_code == 200 and response.content == golden("geral")
        assert "Set-Cookie" not in response.headers  # programs need no cookie
        response = requests.get(f"{served.base}/meta_ads/resumo?key={key}", timeout=10)
        assert response.status_code == 200 and response.content == golden("meta_ads/resumo")


@pytest.mark.serve
def test_a_browser_that_opened_a_page_with_the_key_follows_its_links(served: Served) -> None:
    with requests.Session() as browser:
        page = browser.get(f"{served.base}/geral.html?key={KEY}", timeout=10)
        assert page.status_code == 200
        cookie = page.headers["Set-Cookie"]
        assert cookie == f"{COOKIE}={cookie_value(KEY)}; HttpOnly; Path=/; SameSite=Strict"
        # The page's links carry no key; the cookie opens them.
        for path in ("/geral.json", "/geral/resumo.html", "/meta_ads", "/"):
            assert browser.get(served.base + path, timeout=10).status_code == 200
    # Another key's cookie is another value; a removed key's cookie opens nothing (above).
    assert cookie_value(OTHER_KEY) != cookie_value(KEY)


@pytest.mark.serve
def test_the_key_appears_in_no_body_header_or_log_line(served: Served) -> None:
    answers: list[requests.Response] = []
    with requests.Session() as browser:
        for path in ("/geral.html", "/geral/resumo.html", "/", "/geral.json", "/geral"):
            answers.append(browser.get(f"{served.base}{path}?ratios=sum&key={KEY}", timeout=10))
            answers.append(
                requests.get(
                    f"{served.base}{path}",
                    headers={"Authorization": f"Bearer {OTHER_KEY}", "Accept": "text/html"},
                    timeout=10,
                )
            )
        answers.append(browser.get(f"{served.base}/nope?key={KEY}", timeout=10))
        answers.append(browser.get(f"{served.base}/geral?ratios=bad&key={KEY}", timeout=10))
    assert [r.status_code for r in answers] == [200] * 10 + [404, 400]
    for response in answers:
        text = response.content + str(response.headers).encode()
        assert KEY.encode() not in text and OTHER_KEY.encode() not in text
    served.stop()
    log = served.log()
    assert KEY not in log and OTHER_KEY not in log and "Authorization" not in log
    assert "Bearer" not in log
    # The access log has a line per request, the query's key as ***.
    assert '"GET /geral.html?ratios=sum&key=*** HTTP/1.1" 200' in log
    assert '"GET /geral HTTP/1.1" 200' in log
    assert '"GET /nope?key=*** HTTP/1.1" 404' in log


@pytest.mark.serve
def test_the_key_flag_works_like_the_variable(simulator: Simulator) -> None:
    with serve(simulator.url, "--access-keys", KEY) as server:
        assert requests.get(f"{server.base}/geral", timeout=10).status_code == 401
        response = requests.get(f"{server.base}/geral?key={KEY}", timeout=10)
        assert response.content == golden("geral")


def test_serve_refuses_a_public_address_without_keys() -> None:
    result = subprocess.run(
        [CLI, "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "stract-reports: refusing to serve 0.0.0.0 without access keys: set STRACT_ACCESS_KEYS "
        "(or --access-keys), or pass --public to serve it open\n"
    )


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"STRACT_ACCESS_KEYS": "none"}, [], "key 1 of 1 has 4 characters"),
        ({"STRACT_ACCESS_KEYS": f"{KEY},,{OTHER_KEY}"}, [], "key 2 of 3 is empty"),
        ({}, ["--access-keys", "a"], "key 1 of 1 has 1 character;"),
    ],
)
def test_serve_refuses_a_short_or_empty_key_in_one_line(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = subprocess.run(
        [CLI, "serve", "--port", "1", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"stract-reports: STRACT_ACCESS_KEYS (--access-keys): {message}"
    )
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    assert KEY not in result.stderr and OTHER_KEY not in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("reports.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- the access log: one line per request, nothing forged, keys masked only as whole values ------


def _raw_get(base: str, target: bytes) -> bytes:
    """Send one GET with ``target`` exactly as given (no client escapes it); the status line."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return conn.recv(4096).split(b"\r\n", 1)[0]


def _access_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " stract_reports.access: " in line]


@pytest.mark.parametrize("keys", [False, True], ids=["open", "with keys"])
@pytest.mark.serve
def test_the_access_log_escapes_every_control_character_of_path_and_query(
    simulator: Simulator, keys: bool
) -> None:
    env = {"STRACT_ACCESS_KEYS": KEY} if keys else {}
    forged = b"/geral%0d%0a127.0.0.1%20%22GET%20/admin%20HTTP/1.1%22%20200%201%200.001s%1b[2J%00%07"
    with serve(simulator.url, env=env) as server:
        assert _raw_get(server.base, forged).startswith(b"HTTP/1.1 40")
        assert _raw_get(server.base, b"/geral?x=\x1b[31m\x00\x7f%0A").startswith(b"HTTP/1.1 40")
        assert _raw_get(server.base, b"/geral\x1b]0;title\x07").startswith(b"HTTP/1.1 40")
        server.stop()
        log = server.log()
    status = "401" if keys else "404"
    lines = _access_lines(log)
    assert len(lines) == 4, log  # the three above and the /healthz the start waited for
    target = '/geral\\r\\n127.0.0.1 "GET /admin HTTP/1.1" 200 1 0.001s\\x1b[2J\\x00\\x07'
    # A line is written once the answer is sent: the order of the lines is not the requests'.
    logged = "\n".join(lines)
    assert f'"GET {target} HTTP/1.1" {status} ' in logged
    assert '"GET /geral?x=\\x1b[31m\\x00\\x7f%0A HTTP/1.1"' in logged
    assert '"GET /geral\\x1b]0;title\\x07 HTTP/1.1"' in logged
    # No line of the log starts where a client said, and nothing raw reaches the terminal.
    assert not any(line.startswith("127.0.0.1") for line in log.splitlines())
    assert not any(ch in log for ch in "\r\x1b\x00\x07\x7f")


@pytest.mark.serve
def test_the_access_log_masks_keys_as_whole_values_and_never_cuts_a_path(served: Served) -> None:
    with requests.Session() as session:
        assert session.get(f"{served.base}/healthz", timeout=10).status_code == 200
        session.get(f"{served.base}/geral?monkey=1&key={KEY}&Key={WRONG}", timeout=10)
        session.get(f"{served.base}/geral/{KEY}", timeout=10)
        session.get(f"{served.base}/geral", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    served.stop()
    logged = "\n".join(_access_lines(served.log()))
    assert '"GET /healthz HTTP/1.1" 200' in logged
    assert '"GET /geral?monkey=1&key=***&Key=*** HTTP/1.1" 400' in logged
    assert '"GET /geral/*** HTTP/1.1" 404' in logged
    assert '"GET /geral HTTP/1.1" 200' in logged
    assert KEY not in served.log() and WRONG not in served.log()


# -- browsers get an HTML page for 401 -------------------------------------------------------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def keyed(make_app: Callable[..., Flask], simulator: Simulator) -> Flask:
    """An app behind KEY whose throttle counts 3 wrong keys in a 1-second window."""
    return make_app(simulator, access_keys=(KEY,), key_failures=3, key_failure_window=1.0)


def _assert_html_unauthorized(page: Any, detail: str) -> None:
    assert page.status_code == 401
    assert page.mimetype == "text/html"
    assert page.headers["WWW-Authenticate"] == 'Bearer realm="stract-reports"'
    assert page.headers["Cache-Control"] == "no-store"
    assert "nonce-" in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert '<dd id="error">unauthorized</dd>' in text
    assert f'<dd id="detail">{detail}</dd>' in text
    assert '<dd id="status">401</dd>' in text
    assert KEY not in text and WRONG not in text


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/geral.html", None),
        ("/geral/resumo.html", "*/*"),
        ("/geral", BROWSER),
        ("/", BROWSER),
        ("/meta_ads/resumo.csv", "text/html"),
    ],
)
def test_browsers_get_an_html_page_for_401(keyed: Flask, path: str, accept: str | None) -> None:
    client = keyed.test_client()
    headers = {"Accept": accept} if accept else {}
    missing = "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY"
    _assert_html_unauthorized(client.get(path, headers=headers), missing)
    wrong = client.get(f"{path}?key={WRONG}", headers=headers)
    _assert_html_unauthorized(wrong, "the access key is not valid")


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "text/csv", "application/json, text/html;q=0.5"]
)
def test_programs_keep_json_for_401(keyed: Flask, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    response = keyed.test_client().get("/geral", headers=headers)
    assert response.status_code == 401 and response.mimetype == "application/json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stract-reports"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "error": "unauthorized",
        "detail": "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY",
        "status": 401,
    }


# -- wrong keys are throttled per client address ---------------------------------------------------


def _get(client: FlaskClient, path: str, address: str, **headers: str) -> Any:
    return client.get(path, environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_wrong_keys_are_throttled_per_client_address_until_the_window_passes(
    keyed: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = keyed.test_client()
    attacker, neighbour = "198.51.100.7", "198.51.100.8"
    for _ in range(10):  # no key at all is no guess: never throttled
        assert _get(client, "/geral", attacker).status_code == 401
    started = time.monotonic()
    codes = [_get(client, f"/geral?key={WRONG}-{n}", attacker).status_code for n in range(3)]
    assert codes == [401, 401, 401]
    for path in (f"/geral?key={WRONG}", f"/geral?key={KEY}", "/geral", "/geral.html"):
        refused = _get(client, path, attacker)
        assert refused.status_code == 429, path
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["Cache-Control"] == "no-store"
    assert refused.mimetype == "text/html"  # the .html one: a page, like the 401
    bearer = _get(client, "/geral", attacker, Authorization=f"Bearer {KEY}")
    assert bearer.status_code == 429
    assert bearer.json == {
        "error": "too many wrong access keys",
        "detail": "this address presented 3 wrong access keys within 1s; try again in 1s",
        "status": 429,
    }
    # Another address is not held back, and /healthz stays open to everyone.
    assert _get(client, f"/geral?key={KEY}", neighbour).status_code == 200
    assert _get(client, f"/geral?key={WRONG}", neighbour).status_code == 401
    assert _get(client, "/healthz", attacker).status_code == 200
    time.sleep(max(0.0, started + 1.05 - time.monotonic()))
    assert _get(client, f"/geral?key={KEY}", attacker).status_code == 200
    assert _get(client, f"/geral?key={WRONG}", attacker).status_code == 401
    throttled = [r for r in caplog.records if "wrong access keys" in r.getMessage()]
    assert [r.getMessage() for r in throttled] == [
        "198.51.100.7 presented 3 wrong access keys within 1s: refused until 1s after the first"
    ]
    assert throttled[0].levelno == logging.WARNING
    assert WRONG not in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("not an address", "not an address"),
        (None, "-"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64_network(address: str | None, client: str) -> None:
    assert client_of(address) == client


def test_the_throttle_remembers_a_bounded_number_of_clients() -> None:
    now = [0.0]
    throttle = Throttle(limit=2, window=60.0, clients=100, clock=lambda: now[0])
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
        now[0] += 0.01
    assert len(throttle) == 100
    assert throttle.failed("10.0.3.231") is True  # among the newest: still counted
    now[0] += 61
    throttle.failed("192.0.2.1")
    assert len(throttle) == 1  # the windows that passed are forgotten
    assert throttle.wait("10.0.3.231") == 0.0


# -- behind a TLS-terminating proxy --------------------------------------------------------------


@pytest.mark.parametrize("trust", [False, True], ids=["headers ignored", "proxy trusted"])
def test_forwarded_headers_count_only_behind_a_trusted_proxy(
    make_app: Callable[..., Flask], simulator: Simulator, trust: bool
) -> None:
    app = make_app(
        simulator, access_keys=(KEY,), key_failures=3, key_failure_window=60.0, trust_proxy=trust
    )
    client = app.test_client()
    proxy = "10.1.1.1"
    # The Secure flag follows the scheme the proxy says the browser used, only when trusted.
    https = _get(client, f"/geral.html?key={KEY}", proxy, **{"X-Forwarded-Proto": "https"})
    http = _get(client, f"/geral.html?key={KEY}", proxy, **{"X-Forwarded-Proto": "http"})
    assert ("Secure" in https.headers["Set-Cookie"]) is trust
    assert "Secure" not in http.headers["Set-Cookie"]
    # Four clients behind the proxy, each with two wrong keys; then a right one each.
    for n in range(4):
        for _ in range(2):
            _get(client, f"/geral?key={WRONG}", proxy, **{"X-Forwarded-For": f"203.0.113.{n}"})
    answers = [
        _get(client, f"/geral?key={KEY}", proxy, **{"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(4)
    ]
    # Trusted: four clients, none throttled. Ignored: one client (the proxy), throttled, and a
    # forged X-Forwarded-For cannot get it out.
    expected = 200 if trust else 429
    assert [a.status_code for a in answers] == [expected] * 4
    spoofed = _get(client, f"/geral?key={KEY}", proxy, **{"X-Forwarded-For": "192.0.2.99"})
    assert spoofed.status_code == 200 if trust else 429


def test_only_the_last_forwarded_address_counts_behind_a_trusted_proxy(
    make_app: Callable[..., Flask], simulator: Simulator
) -> None:
    app = make_app(
        simulator, access_keys=(KEY,), key_failures=2, key_failure_window=60.0, trust_proxy=True
    )
    client = app.test_client()
    # The proxy appends the address it saw; what the client wrote before it is not believed.
    for forged in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        header = {"X-Forwarded-For": f"{forged}, 203.0.113.50"}
        _get(client, f"/geral?key={WRONG}", "10.1.1.1", **header)
    header = {"X-Forwarded-For": "192.0.2.4, 203.0.113.50"}
    assert _get(client, f"/geral?key={KEY}", "10.1.1.1", **header).status_code == 429


# -- the throttle on a real serve process ---------------------------------------------------------


@pytest.mark.parametrize("trust", [False, True], ids=["direct", "behind a trusted proxy"])
@pytest.mark.serve
def test_serve_throttles_wrong_keys_and_logs_it_once(simulator: Simulator, trust: bool) -> None:
    env = {"STRACT_ACCESS_KEYS": KEY, **({"STRACT_TRUST_PROXY": "1"} if trust else {})}
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    with serve(simulator.url, env=env) as server, requests.Session() as session:
        codes = [
            session.get(f"{server.base}/geral?key={WRONG}", headers=attacker, timeout=10)
            for _ in range(25)
        ]
        assert [c.status_code for c in codes] == [401] * 20 + [429] * 5
        refused = codes[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["error"] == "too many wrong access keys"
        right = session.get(f"{server.base}/geral?key={KEY}", headers=attacker, timeout=10)
        assert right.status_code == 429
        # Another client: another address behind the trusted proxy; a forged header otherwise.
        other = session.get(
            f"{server.base}/geral?key={KEY}",
            headers={"X-Forwarded-For": "203.0.113.10"},
            timeout=10,
        )
        assert other.status_code == (200 if trust else 429)
        assert session.get(f"{server.base}/healthz", timeout=10).status_code == 200
        server.stop()
        log = server.log()
    client = "203.0.113.9" if trust else "127.0.0.1"
    lines = [line for line in log.splitlines() if "wrong access keys" in line]
    assert len(lines) == 1
    assert re.search(
        rf"WARNING stract_reports.access.throttle: {re.escape(client)} presented 20 wrong "
        r"access keys within 60s: refused until 60s after the first$",
        lines[0],
    )
    assert KEY not in log and WRONG not in log
    # The access log names the client the throttle counted.
    assert f'{client} "GET /geral?key=*** HTTP/1.1" 429' in log
