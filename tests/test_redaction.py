"""No piece of any token the process knows in any message: every message template that can carry
upstream text, with a token at every offset of the hostile value, checked in the JSON body, the
HTML error page, every log line (debug included), the CLI's one line and the access log.

The tokens are the bearer and another account's token (issue 21, row 45: account A1's insights
error echoes account A2's token). Both are digits, so that one of the templates (a number out of
range) can carry them too; the filler around them is a character no token holds.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from flask import Flask

from hostile import Call, HostileUpstream, Reply, json_reply, raw_reply
from redisd import RedisServer
from served import serve
from stract_reports.redaction import (
    MASK,
    MIN_SECRET,
    SecretRegistry,
    mask_query,
    printable,
    redact,
    register,
)
from stract_reports.simulator import real_dataset
from support import CLI

PLATFORM = "tiktok_insights"
_digits = random.Random(21)
# Digits 0-8 only: "9" and "x" are the fillers, so no window of filler is a piece of a token.
BEARER = "".join(_digits.choice("012345678") for _ in range(36))
A2_TOKEN = "".join(_digits.choice("012345678") for _ in range(36))
# Where the token starts in the hostile value: the start, every cut point we make (20 for page
# totals, 24 for values, 40 for keys, 80 for error text) and the characters around each.
OFFSETS = (0, 1, 5, 11, 12, 13, 16, 19, 20, 21, 23, 24, 25, 32, 39, 40, 41, 72, 79, 80, 81, 100)
# Then the value goes on (the token in the middle) or ends with the token (a suffix).
TAILS = (30, 0)


def pieces(token: str) -> list[str]:
    """Every MIN_SECRET-character piece of ``token``: none may appear anywhere."""
    return [token[i : i + MIN_SECRET] for i in range(len(token) - MIN_SECRET + 1)]


def tokens_of(upstream: HostileUpstream) -> list[str]:
    """The bearer and every account token the upstream serves."""
    return [upstream.token, *(a.token for p in upstream.dataset.platforms for a in p.accounts)]


def assert_no_piece(tokens: list[str], text: str, where: str) -> None:
    for token in tokens:
        for piece in pieces(token):
            assert piece not in text, (where, piece, text[:600])


def hostile_value(token: str, offset: int, tail: int, filler: str) -> str:
    return filler * offset + token + filler * tail


@dataclass(frozen=True)
class Template:
    """One message that can carry upstream text: how to plant the hostile value, the status it
    answers, and words of the message that show the template was the one reached."""

    name: str
    status: int
    shows: str
    filler: str = "x"


TEMPLATES = [
    Template("error text", 502, 'upstream answered error "'),
    Template("pagination total", 502, "pagination total is '"),
    Template("pagination current", 502, "asked for page 1, got page '"),
    Template("duplicate key", 502, "response repeats the key"),
    Template("number out of range", 502, "is out of range", filler="9"),
    Template("text among numbers", 200, "is text, not numbers"),
    Template("account name", 502, "HTTP 500"),
    Template("field label", 502, "is out of range"),
    Template("platform label", 502, 'upstream answered error "nope"'),
    Template("unknown platform", 404, "no platform 'nope'"),
]


class Planted:
    """The hostile upstream's answers, with the value of the template being driven."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.value: str | None = None  # honest answers until a value is planted
        self.dataset = real_dataset()
        self.platform = self.dataset.platform(PLATFORM)
        assert self.platform is not None
        self.a1, self.a2 = self.platform.accounts
        self.a2.token = A2_TOKEN
        self.honest_name = self.a1.name
        self.honest_label = self.platform.text
        self.honest_fields = [dict(f) for f in self.platform.fields]

    def plant(self, value: str) -> None:
        """Set the hostile value; the dataset parts that carry it change with it."""
        self.value = value
        assert self.platform is not None
        name = self.template.name
        self.a1.name = value if name == "account name" else self.honest_name
        self.platform.text = value if name == "platform label" else self.honest_label
        fields = [dict(f) for f in self.honest_fields]
        if name == "field label":
            next(f for f in fields if f["value"] == "cost")["text"] = value
        self.platform.fields = fields

    def tamper(self, call: Call) -> Reply | None:
        name, value = self.template.name, self.value
        if value is None:
            return None
        if name == "unknown platform" and call.endpoint == "platforms":
            extra = {"text": "Other", "value": value}
            return json_reply({"platforms": [*call.honest["platforms"], extra]})
        if call.endpoint != "insights" or call.query.get("account") != self.a1.id:
            return None
        rows = [dict(row) for row in call.honest["insights"]]
        if name in ("error text",):
            return json_reply({"error": value})
        if name == "pagination total":
            return json_reply({"insights": rows, "pagination": {"total": value, "current": 1}})
        if name == "pagination current":
            return json_reply({"insights": rows, "pagination": {"total": 1, "current": value}})
        if name == "duplicate key":
            key = json.dumps(value)
            return raw_reply(f'{{"insights": [], {key}: 1, {key}: 2}}'.encode())
        if name in ("number out of range", "text among numbers"):
            rows[0]["cost"] = value
            return json_reply({"insights": rows})
        if name == "field label":
            rows[0]["cost"] = "9" * 40  # out of range, in the column the label names
            return json_reply({"insights": rows})
        if name == "account name":
            return json_reply({"error": "busy"}, 500)
        if name == "platform label":
            return json_reply({"error": "nope"})
        return None


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record, debug included."""
    caplog.set_level(logging.DEBUG)
    return caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """The captured log as written, and each record's message and traceback."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), record.exc_text or ""]
    return "\n".join(parts)


@pytest.mark.parametrize("token_name", ["bearer", "another account's token"])
@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_no_piece_of_a_token_in_any_message_at_any_offset(
    make_hostile: Callable[..., HostileUpstream],
    make_app: Callable[..., Flask],
    logged: pytest.LogCaptureFixture,
    template: Template,
    token_name: str,
) -> None:
    planted = Planted(template)
    upstream = make_hostile(planted.tamper, dataset=planted.dataset, token=BEARER)
    # No speculation: a remembered call keeps the words of the report it was made for.
    app = make_app(upstream, api_token=BEARER, retries=1, speculate=False)
    client = app.test_client()
    tokens = tokens_of(upstream)
    token = BEARER if token_name == "bearer" else A2_TOKEN
    # A good report first: the process has read every account (A2's token included).
    assert client.get(f"/{PLATFORM}.json").status_code == 200
    path = "/nope" if template.name == "unknown platform" else f"/{PLATFORM}"

    for offset in OFFSETS:
        for tail in TAILS:
            value = hostile_value(token, offset, tail, template.filler)
            if template.name == "text among numbers" and value.isdigit():
                continue  # the token alone is a number: the out-of-range template's case
            planted.plant(value)
            logged.clear()
            where = f"{template.name}, token at {offset}, {tail} after"
            answer = client.get(f"{path}.json")
            assert answer.status_code == template.status, (where, answer.text)
            if template.status == 200:  # the value is a cell of the report: only the warning
                shown = "\n".join(answer.json["warnings"])
                csv = client.get(f"{path}.csv")
                shown += csv.headers["X-Report-Warnings"]
            else:
                shown = answer.json["detail"]
                page = client.get(f"{path}.html")
                assert page.status_code == template.status
                assert page.mimetype == "text/html"
                assert_no_piece(tokens, page.text, f"{where}: HTML page")
            assert template.shows in shown, (where, shown)
            if offset <= 8:  # the token starts inside what is shown: it is there, masked
                assert MASK in shown, (where, shown)
            assert_no_piece(tokens, shown, f"{where}: message")
            if template.status != 200:
                assert_no_piece(tokens, answer.text, f"{where}: JSON body")
            assert_no_piece(tokens, log_text(logged), f"{where}: log")


# -- the warm shape read from Redis ------------------------------------------------------------


@pytest.mark.serve
@pytest.mark.redis
def test_tokens_of_a_shape_loaded_from_redis_are_redacted_before_the_accounts_are_read(
    redis_server: RedisServer,
) -> None:
    # A fresh process whose first report speculates from the fleet's shape: A1's insights echo
    # A2's token across the 80-character cut before this process has read the account list.
    dataset = real_dataset()
    platform = dataset.platform(PLATFORM)
    assert platform is not None
    a1, a2 = platform.accounts
    a2.token = A2_TOKEN
    echo = {"on": False}

    def tamper(call: Call) -> Reply | None:
        if not echo["on"]:
            return None
        if call.endpoint == "accounts":
            return Reply(200, json.dumps(call.honest).encode(), delay=0.5)
        if call.endpoint == "insights" and call.query.get("account") == a1.id:
            return json_reply({"error": "x" * 70 + A2_TOKEN})
        return None

    env = {"STRACT_SHARED_URL": redis_server.url, "STRACT_API_TOKEN": BEARER}
    with HostileUpstream(tamper, dataset=dataset, token=BEARER) as upstream:
        with serve(upstream.url, env=env) as first:
            assert requests.get(f"{first.base}/{PLATFORM}", timeout=30).status_code == 200
        echo["on"] = True
        with serve(upstream.url, env=env) as fresh:
            answer = requests.get(f"{fresh.base}/{PLATFORM}.json", timeout=30)
            page = requests.get(f"{fresh.base}/{PLATFORM}.html", timeout=30)
            fresh.stop()
            log = fresh.log()
        tokens = tokens_of(upstream)
    assert answer.status_code == 502 and page.status_code == 502
    assert answer.json()["detail"].startswith(
        f'insights of TikTok account {a1.name!r}: upstream answered error "{"x" * 70}'
    )
    for text, where in ((answer.text, "JSON"), (page.text, "HTML"), (log, "log")):
        assert_no_piece(tokens, text, where)


# -- the CLI's one line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        lambda: json_reply({"error": "x" * 60 + A2_TOKEN}),
        lambda: json_reply({"insights": [], "pagination": {"total": "x" * 4 + A2_TOKEN}}),
        lambda: raw_reply(f'{{"insights": [], "{A2_TOKEN}": 1, "{A2_TOKEN}": 2}}'.encode()),
    ],
    ids=["error text", "pagination total", "duplicate key"],
)
def test_the_cli_failure_line_shows_no_piece_of_a_token(answer: Callable[[], Reply]) -> None:
    dataset = real_dataset()
    platform = dataset.platform(PLATFORM)
    assert platform is not None
    a1, a2 = platform.accounts
    a2.token = A2_TOKEN

    def tamper(call: Call) -> Reply | None:
        if call.endpoint == "insights" and call.query.get("account") == a1.id:
            return answer()
        return None

    with HostileUpstream(tamper, dataset=dataset, token=BEARER) as upstream:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRACT_")}
        done = subprocess.run(
            [CLI, "export", PLATFORM, "--api-url", upstream.url],
            env={**env, "STRACT_API_TOKEN": BEARER, "STRACT_RETRIES": "0"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        tokens = tokens_of(upstream)
    assert done.returncode == 1
    assert done.stderr.startswith("stract-reports: ") and done.stderr.count("\n") == 1
    assert MASK in done.stderr
    assert_no_piece(tokens, done.stderr, "CLI")


# -- the registry --------------------------------------------------------------------------------


def test_every_registered_secret_is_masked_whole_wherever_it_occurs() -> None:
    registry = SecretRegistry()
    secrets = [f"tok{n:05d}-abcdefgh" for n in range(3000)]
    registry.add(secrets)
    text = f"a{secrets[7]}b {secrets[2999]}{secrets[0]} c {secrets[7]}"
    spans = sorted(registry.find(text))
    found = [text[start:stop] for start, stop in spans]
    assert found == [secrets[7], secrets[2999], secrets[0], secrets[7]]
    assert registry.find("nothing here, tok00007-abcdefg (one short)") == []


def test_overlapping_secrets_are_masked_as_one_span() -> None:
    register(["overlap-AAAA-BBBB", "BBBB-CCCC-overlap"])
    assert redact("x overlap-AAAA-BBBB-CCCC-overlap y") == "x *** y"


def test_secrets_in_quoted_forms_are_masked_too() -> None:
    register(['quote"and\\slash-secret'])
    shown = json.dumps({"said": 'quote"and\\slash-secret'})
    assert redact(shown) == '{"said": "***"}'
    assert redact(repr('quote"and\\slash-secret')) == "'***'"


def test_short_values_are_not_secrets_and_words_stay_whole() -> None:
    registry = SecretRegistry()
    registry.add(["a", "he", "1234567"], pinned=True)
    assert len(registry) == 0
    assert registry.find("/healthz /geral/resumo 1234567") == []


def test_the_registry_forgets_the_least_recent_tokens_beyond_its_limit_but_never_pinned() -> None:
    registry = SecretRegistry(limit=3)
    registry.add(["pinned-bearer-token"], pinned=True)
    registry.add(["token-one-1111", "token-two-2222", "token-three-33"])
    registry.add(["token-one-1111"])  # read again: the most recent now
    registry.add(["token-four-4444"])
    assert len(registry) == 4  # the pinned one and three others
    text = "pinned-bearer-token token-one-1111 token-two-2222 token-three-33 token-four-4444"
    masked = {text[a:b] for a, b in registry.find(text)}
    assert masked == {"pinned-bearer-token", "token-one-1111", "token-three-33", "token-four-4444"}
    registry.add(f"extra-token-{n:05d}" for n in range(10_000))
    assert len(registry) == 4 and registry.find("pinned-bearer-token") == [(0, 19)]


def test_a_long_text_is_searched_whole() -> None:
    register(["far-away-secret-0042"])
    text = "y" * 100_000 + "far-away-secret-0042" + "y" * 10
    assert redact(text) == "y" * 100_000 + "***" + "y" * 10


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("key=abc&x=1", "key=***&x=1"),
        ("x=1&KEY=abc&token=t", "x=1&KEY=***&token=***"),
        ("monkey=abc&keys=1", "monkey=abc&keys=1"),
        ("key", "key"),
        ("", ""),
    ],
)
def test_query_values_are_masked_by_name_only(query: str, masked: str) -> None:
    assert mask_query(query) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "GET http://h/api/insights?account=1&token=abc&fields=x",
            "GET http://h/api/insights?account=1&token=***&fields=x",
        ),
        ("bad token=abc here", "bad token=*** here"),
        ("monkey=1&key=K", "monkey=1&key=***"),
        ('"GET /key=foo/x HTTP/1.1"', '"GET /key=foo/x HTTP/1.1"'),
    ],
)
def test_token_and_key_values_in_text_are_masked_as_words_not_pieces(
    text: str, redacted: str
) -> None:
    assert redact(text) == redacted


def test_printable_escapes_every_control_character() -> None:
    assert printable("/a\r\nb\x1b[31m\x00\x7f\u2028é") == "/a\\r\\nb\\x1b[31m\\x00\\x7f\\u2028é"
