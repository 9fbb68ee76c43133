"""The owner's commands over a real store (SQLite, then PostgreSQL) and the simulator: keys,
views and the audit trail; every mistake is refused before anything is stored, in one line."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner, Result

from stract_reports.cli import main
from stract_reports.scope import Scope
from stract_reports.simulator import Simulator
from stract_reports.simulator.dataset import synthetic_dataset
from stract_reports.store import AuditEntry, open_store
from stract_reports.store.keys import secret_hash
from stract_reports.store.times import now_utc
from support import closed_port_url, free_port

Run = Callable[..., Result]


def columns(line: str) -> list[str]:
    """A line of a listing as its cells (columns are two spaces apart or more)."""
    return re.split(r" {2,}", line)


@pytest.fixture
def run(store_url: str, simulator: Simulator) -> Run:
    """``stract-reports ARGS`` over the test's store and the real-data simulator."""

    def invoke(*args: str, store: str = store_url) -> Result:
        env = {"STRACT_STORE_URL": store, "STRACT_API_URL": simulator.url, "STRACT_RETRIES": "0"}
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_keys_add_prints_the_key_once_and_the_store_keeps_its_hash(
    run: Run, store_url: str
) -> None:
    made = run("keys", "add", "acme", "--account", "meta_ads:8", "--expires", "30d")
    assert made.exit_code == 0, made.stderr
    (key,) = made.stdout.split()
    assert len(key) == 43
    assert made.stderr.startswith("key 'acme': meta_ads: accounts 8; expires ")
    assert "Shown once" in made.stderr and key not in made.stderr
    store = open_store(store_url)
    assert store is not None
    try:
        record = store.keys.verify(key, now_utc())
        assert record is not None and record.scope == Scope(accounts=(("meta_ads", "8"),))
        assert record.expires is not None
        assert timedelta(days=29, hours=23) < record.expires - record.created <= timedelta(days=30)
        with store.db.read() as tx:
            assert bytes(tx.value("SELECT hash FROM access_key")) == secret_hash(key)
    finally:
        store.close()
    listed = run("keys", "list")
    assert listed.exit_code == 0
    header, line = map(columns, listed.stdout.splitlines())
    assert header == ["NAME", "STATE", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "USES"]
    assert line[:3] == ["acme", "active", "meta_ads: accounts 8"] and line[-2:] == ["-", "0"]
    assert line[3].endswith(" UTC") and line[4] == f"{record.expires:%Y-%m-%d %H:%M} UTC"
    assert key not in listed.stdout


@pytest.mark.parametrize(
    ("args", "message", "unchecked"),
    [
        (["--account", "meta_ads:99"], "meta_ads has no account '99' (ids, not names: see", 0),
        (["--account", "youtube:1"], "no platform 'youtube'; platforms: meta_ads, ga4, tiktok", 0),
        (["--column", "Spennd"], "no column 'Spennd'; columns: Clicks, Impressions, Spend, ", 0),
        (["--platform", "ga4", "--account", "meta_ads:1"], "outside the scope's platforms", 2),
        (["--account", "meta_ads"], "an account is PLATFORM:ID, not 'meta_ads'", 2),
        (["--expires", "tomorrow"], "'tomorrow' is no duration", 2),
    ],
)
def test_a_scope_that_names_nothing_real_is_refused_before_it_is_stored(
    run: Run, args: list[str], message: str, unchecked: int
) -> None:
    refused = run("keys", "add", "acme", *args)
    assert refused.exit_code == 2 and message in refused.stderr, refused.stderr
    assert refused.stdout == ""
    assert run("keys", "list").stdout.splitlines()[1:] == []
    # --no-check skips the upstream (a key made ahead of its accounts), not the scope's form.
    assert run("keys", "add", "acme", "--no-check", *args).exit_code == unchecked


def test_keys_accounts_tells_accounts_that_share_a_name_apart(
    make_simulator: Callable[..., Simulator], store_url: str
) -> None:
    sim = make_simulator(synthetic_dataset(3, 1))
    listed = CliRunner().invoke(
        main, ["keys", "accounts"], env={"STRACT_API_URL": sim.url, "STRACT_STORE_URL": "off"}
    )
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[:4] == [
        "PLATFORM         ACCOUNT ID  ACCOUNT NAME",
        "meta_ads         1           Jorginho",
        "meta_ads         2           Jorginho",
        'meta_ads         3           Loja "Central", SP',
    ]
    assert len(lines) == 1 + 3 * 3


def test_revoking_a_key_names_its_views(run: Run) -> None:
    assert run("keys", "add", "acme", "--account", "meta_ads:8").exit_code == 0
    assert run("views", "add", "weekly", "meta_ads.csv", "--key", "acme").exit_code == 0
    revoked = run("keys", "revoke", "acme")
    assert revoked.exit_code == 0
    assert revoked.stdout == (
        "revoked key 'acme' and its views (weekly): every server refuses it within a second\n"
    )
    assert run("keys", "list").stdout.splitlines()[1].startswith("acme  revoked  ")
    listed = run("views", "list").stdout.splitlines()
    assert columns(listed[1])[:3] == ["weekly", "ended (key revoked)", "acme"]
    missing = run("keys", "revoke", "nobody")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "stract-reports: not found: no key named 'nobody'\n",
    )


def test_views_add_prints_the_url_and_the_formulas_once(run: Run, store_url: str) -> None:
    assert run("keys", "add", "acme", "--account", "meta_ads:8").exit_code == 0
    made = run(
        "views",
        "add",
        "weekly",
        "geral/resumo.csv?_by=Country",
        "--key",
        "acme",
        "--base-url",
        "https://reports.example/",
    )
    assert made.exit_code == 0, made.stderr
    url, blank, sheets, power = made.stdout.splitlines()
    view = url.removeprefix("https://reports.example/v/")
    assert len(view) == 43 and blank == ""
    assert sheets == f'Google Sheets:  =IMPORTDATA("{url}")'
    assert power == (
        f'Excel (Power Query):  = Csv.Document(Web.Contents("{url}"), '
        '[Delimiter=",", Encoding=65001])'
    )
    store = open_store(store_url)
    assert store is not None
    try:
        saved = store.views.get(view, now_utc())
        assert saved is not None
        assert (saved.report, saved.format, saved.query) == ("geral/resumo", "csv", "_by=Country")
    finally:
        store.close()
    listed = run("views", "list").stdout
    assert "weekly  active  acme  geral/resumo.csv?_by=Country  " in listed and view not in listed
    html = run("views", "add", "page", "meta_ads.html", "--key", "acme")
    assert html.stdout.splitlines()[2].endswith('.csv")')  # a spreadsheet reads the CSV
    assert run("views", "revoke", "weekly").stdout == (
        "revoked view 'weekly': every server answers 404 within a second\n"
    )


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("ga4.csv", "unknown platform: no platform 'ga4'; valid platforms: meta_ads"),
        ("geral?_col=Nope", "bad request: _col: no column 'Nope'; columns: Platform, "),
        ("geral?_by=Country", "bad request: _by groups summaries"),
        ("geral.pdf", "unsupported format: no format 'pdf'"),
        ("geral?_size=0", "_size must be a page size"),
        ("geral?key=abcdefabcdefabcdef", "leave the key out of the URL"),
        ("geral/detalhe", "'geral/detalhe' is not a report"),
    ],
)
def test_a_view_that_could_not_be_served_is_refused(run: Run, report: str, message: str) -> None:
    assert run("keys", "add", "acme", "--account", "meta_ads:8").exit_code == 0
    refused = run("views", "add", "weekly", report, "--key", "acme")
    assert refused.exit_code == 1 and message in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    assert run("views", "list").stdout.splitlines()[1:] == []


def test_a_view_needs_an_active_key(run: Run) -> None:
    refused = run("views", "add", "weekly", "geral.csv", "--key", "nobody")
    assert (refused.exit_code, refused.stderr) == (
        1,
        "stract-reports: not found: no active key named 'nobody'\n",
    )


def test_audit_shows_reads_by_key_and_time(run: Run, store_url: str) -> None:
    store = open_store(store_url)
    assert store is not None
    now = now_utc()
    store.audit.append(
        [
            AuditEntry(now - timedelta(days=10), "acme", None, "geral", "csv", 200),
            AuditEntry(now - timedelta(hours=1), "acme", "weekly", "geral/resumo", "xlsx", 200),
            AuditEntry(now - timedelta(minutes=5), None, None, "meta_ads", "json", 200),
            AuditEntry(now - timedelta(minutes=1), "other", None, "ga4", "html", 404),
        ]
    )
    store.close()
    every = run("audit").stdout.splitlines()
    assert columns(every[0]) == ["AT", "KEY", "VIEW", "REPORT", "STATUS"]
    assert columns(every[1])[0] == f"{now - timedelta(minutes=1):%Y-%m-%d %H:%M:%S} UTC"
    assert [columns(line)[1:] for line in every[1:]] == [
        ["other", "-", "ga4.html", "404"],
        ["(owner)", "-", "meta_ads.json", "200"],
        ["acme", "weekly", "geral/resumo.xlsx", "200"],
        ["acme", "-", "geral.csv", "200"],
    ]
    recent = run("audit", "--key", "acme", "--since", "7d").stdout.splitlines()
    assert [columns(line)[1:] for line in recent[1:]] == [
        ["acme", "weekly", "geral/resumo.xlsx", "200"]
    ]
    assert len(run("audit", "--limit", "1").stdout.splitlines()) == 2


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "list"],
        ["keys", "add", "x"],
        ["views", "list"],
        ["views", "revoke", "x"],
        ["audit"],
    ],
)
def test_every_command_refuses_to_run_without_a_store_in_one_line(
    run: Run, command: list[str]
) -> None:
    refused = run(*command, store="off")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "stract-reports: keys, views and the audit trail live in the store, and "
        "STRACT_STORE_URL is off: set it to sqlite:///FILE or postgresql://..., or leave it "
        "empty for the default file\n"
    )


def test_an_unreachable_store_or_upstream_fails_in_one_line(run: Run, store_url: str) -> None:
    down = f"postgresql://nobody:secret-password@127.0.0.1:{free_port()}/x"
    refused = run("keys", "list", store=down)
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("stract-reports: store unavailable: the store (postgresql://")
    assert "secret-password" not in refused.stderr
    assert run("keys", "add", "acme", "--account", "meta_ads:8").exit_code == 0
    no_upstream = {"STRACT_API_URL": closed_port_url(), "STRACT_RETRIES": "0"}
    for command in (
        ["keys", "accounts"],
        ["keys", "add", "other", "--account", "meta_ads:1"],
        ["views", "add", "v", "geral.csv", "--key", "acme"],
    ):
        failed = CliRunner().invoke(
            main, command, env={**no_upstream, "STRACT_STORE_URL": store_url}
        )
        assert failed.exit_code == 1 and failed.stderr.count("\n") == 1, failed.stderr
        assert failed.stderr.startswith("stract-reports: upstream unavailable: "), failed.stderr
    assert (
        run("keys", "list").stdout.count("\n") == 2 and run("views", "list").stdout.count("\n") == 1
    )
