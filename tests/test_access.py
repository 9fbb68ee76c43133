"""Access keys on the real server: Bearer or ?key=, 401 otherwise, a cookie for browsers, and
the key in no body, header or log line."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
import requests

from served import Served, serve
from stract_reports.access import COOKIE, cookie_value, is_loopback
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


def test_requests_without_a_valid_key_answer_401(served: Served) -> None:
    missing = "this server needs an access key: Authorization: Bearer KEY, or ?key=KEY"
    for path in ("/", "/geral", "/geral.html", "/readyz", "/no/such/report"):
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


def test_healthz_needs_no_key(served: Served) -> None:
    response = requests.get(f"{served.base}/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_every_configured_key_opens_every_report_by_bearer_or_query(served: Served) -> None:
    for key in (KEY, OTHER_KEY):
        bearer = {"Authorization": f"Bearer {key}"}
        response = requests.get(f"{served.base}/geral", headers=bearer, timeout=10)
        assert response.status_code == 200 and response.content == golden("geral")
        assert "Set-Cookie" not in response.headers  # programs need no cookie
        response = requests.get(f"{served.base}/meta_ads/resumo?key={key}", timeout=10)
        assert response.status_code == 200 and response.content == golden("meta_ads/resumo")


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
