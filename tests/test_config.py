"""Settings come from defaults, then the environment, then flags; bad values fail at start."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stract_reports.config import PUBLIC_API_URL, Settings, settings_table
from stract_reports.ranges import number_words
from stract_reports.setting_values import SettingsError, parse_duration
from stract_reports.store_location import default_store_url, parse_store_url


def test_defaults_point_at_the_public_api() -> None:
    settings = Settings.from_env({})
    assert settings.api_url == PUBLIC_API_URL
    assert settings.concurrency == 32 and settings.cache_ttl == 0


def test_environment_then_flags() -> None:
    env = {
        "STRACT_API_URL": "http://127.0.0.1:9/api/",
        "STRACT_CONCURRENCY": "4",
        "STRACT_REPORT_DEADLINE": "2.5",
        "STRACT_API_TOKEN": "secret-value",
    }
    settings = Settings.from_env(env, concurrency=8, timeout=None)
    assert settings.api_url == "http://127.0.0.1:9/api"
    assert (settings.concurrency, settings.deadline, settings.timeout) == (8, 2.5, 10.0)
    assert settings.api_token == "secret-value"
    assert "secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRACT_CONCURRENCY": "many"}, "STRACT_CONCURRENCY must be a whole number, not 'many'"),
        ({"STRACT_CONCURRENCY": "1.5"}, "STRACT_CONCURRENCY must be a whole number, not '1.5'"),
        ({"STRACT_API_TIMEOUT": "soon"}, "STRACT_API_TIMEOUT must be a number, not 'soon'"),
        ({"STRACT_API_TIMEOUT": "nan"}, "STRACT_API_TIMEOUT must be a number, not 'nan'"),
        ({"STRACT_REPORT_DEADLINE": "inf"}, "STRACT_REPORT_DEADLINE must be a number"),
        ({"STRACT_SPECULATE": "maybe"}, "STRACT_SPECULATE must be 1 or 0"),
        (
            {"STRACT_MAX_PAGES": "0"},
            "STRACT_MAX_PAGES (--max-pages) must be at least 1 and at most 10000000, not 0",
        ),
        ({"STRACT_SHARED_URL": "http://x"}, "must start with redis://"),
        ({"STRACT_CONCURRENCY": "0"}, "STRACT_CONCURRENCY (--concurrency) must be at least 1"),
        (
            {"STRACT_API_TIMEOUT": "-1"},
            "STRACT_API_TIMEOUT (--timeout) must be more than 0 and at most 3600, not -1",
        ),
        ({"STRACT_PORT": "80000"}, "STRACT_PORT (--port) must be at least 1 and at most 65535"),
        ({"STRACT_API_URL": "ftp://x"}, "must start with http"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_every_number_setting_declares_its_range() -> None:
    numbers = [f for f in dataclasses.fields(Settings) if f.type in ("int", "float")]
    assert len(numbers) >= 20
    assert [f.name for f in numbers if f.metadata["range"] is None] == []
    assert [f.name for f in numbers if f.default not in f.metadata["range"]] == []


RANGED = [f for f in dataclasses.fields(Settings) if f.metadata["range"] is not None]


@pytest.mark.parametrize("field", RANGED, ids=[f.name for f in RANGED])
def test_a_range_takes_its_ends_and_refuses_beyond_them(field: dataclasses.Field[Any]) -> None:
    within = field.metadata["range"]
    step = 1 if field.type == "int" else 0.5
    base = {"api_url": "http://127.0.0.1:9/api", "store_url": "off"}
    assert getattr(Settings(**base, **{field.name: within.high}), field.name) == within.high
    if not within.above:
        assert getattr(Settings(**base, **{field.name: within.low}), field.name) == within.low
    for wrong in (within.low if within.above else within.low - step, within.high + step):
        with pytest.raises(SettingsError) as caught:
            Settings(**base, **{field.name: wrong})
        assert str(caught.value).endswith(f"must be {within}, not {number_words(wrong)}")
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_switches_read_the_usual_words(raw: str, expected: bool) -> None:
    assert Settings.from_env({"STRACT_SPECULATE": raw}).speculate is expected


KEY_ONE, KEY_TWO = "k-one-0123456789ab", "k-two-0123456789ab"


def test_access_keys_are_a_comma_list_and_secret() -> None:
    settings = Settings.from_env({"STRACT_ACCESS_KEYS": f" {KEY_ONE} , {KEY_TWO} "})
    assert settings.access_keys == (KEY_ONE, KEY_TWO)
    assert KEY_ONE not in repr(settings)
    assert set(settings.secrets) == {settings.api_token, KEY_ONE, KEY_TWO}
    assert Settings(access_keys=f"{KEY_ONE},{KEY_TWO}").access_keys == (KEY_ONE, KEY_TWO)  # type: ignore[arg-type]
    assert Settings.from_env({"STRACT_ACCESS_KEYS": "0123456789abcdef"}).access_keys == (
        "0123456789abcdef",  # 16 characters: enough
    )


def test_no_access_keys_means_no_check() -> None:
    assert Settings.from_env({}).access_keys == ()
    assert Settings.from_env({"STRACT_ACCESS_KEYS": ""}).access_keys == ()
    assert Settings(access_keys="").access_keys == ()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("none", "key 1 of 1 has 4 characters; a key needs at least 16"),
        ("a", "key 1 of 1 has 1 character; a key needs at least 16"),
        ("0123456789abcde", "key 1 of 1 has 15 characters"),
        (f"{KEY_ONE},short-key", "key 2 of 2 has 9 characters"),
        (f"{KEY_ONE},,{KEY_TWO}", "key 2 of 3 is empty"),
        (f"{KEY_ONE},", "key 2 of 2 is empty"),
        (f"{KEY_ONE}, \t ,{KEY_TWO}", "key 2 of 3 is empty"),
        ("   ", "key 1 of 1 is empty"),
        (",", "key 1 of 2 is empty"),
    ],
)
def test_short_or_empty_access_keys_are_refused_without_showing_them(
    raw: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"STRACT_ACCESS_KEYS": raw})
    assert str(caught.value).startswith(f"STRACT_ACCESS_KEYS (--access-keys): {message}")
    for key in raw.split(","):
        if len(key.strip()) >= 4:  # shorter ones are ordinary words of the message
            assert key.strip() not in str(caught.value)


def test_the_readme_configuration_table_is_the_declared_one() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    assert settings_table() in readme


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        (" 1d ", 86400),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "15", "m", "1.5h", "-1d", "0s", "1y", "15M", "1d2h", "40000w"]
)
def test_what_is_no_duration(text: str) -> None:
    with pytest.raises(ValueError, match="no duration|at most 100 years"):
        parse_duration(text)


def test_retention_and_schedule() -> None:
    settings = Settings.from_env({})
    assert (settings.keep, settings.keep_for) == ("90d", timedelta(days=90))
    assert (settings.record_every, settings.record_interval) == ("off", None)
    settings = Settings.from_env({"STRACT_KEEP": "off", "STRACT_RECORD_EVERY": "15m"})
    assert (settings.keep_for, settings.record_interval) == (None, timedelta(minutes=15))
    with pytest.raises(SettingsError, match=r"record_every: '15' is no duration: .* or off"):
        Settings.from_env({"STRACT_RECORD_EVERY": "15"})
    with pytest.raises(SettingsError, match="keep: 'forever' is no duration"):
        Settings(keep="forever")


def test_the_default_store_is_a_per_user_sqlite_file() -> None:
    assert default_store_url({"XDG_STATE_HOME": "/var/state"}) == (
        "sqlite:////var/state/stract-reports/store.sqlite3"
    )
    # The XDG spec ignores a relative XDG_STATE_HOME.
    for environ in ({}, {"XDG_STATE_HOME": "relative"}):
        assert default_store_url(environ) == (
            f"sqlite:///{Path.home()}/.local/state/stract-reports/store.sqlite3"
        )
    assert Settings(store_url="off").store == "off"
    assert Settings().store == default_store_url()


@pytest.mark.parametrize(
    ("url", "dialect", "target", "shown"),
    [
        ("off", "off", "", "off"),
        ("sqlite:///history.db", "sqlite", "history.db", "sqlite:///history.db"),
        ("sqlite:////srv/h.db", "sqlite", "/srv/h.db", "sqlite:////srv/h.db"),
        (
            "postgresql://reports:s3cret@db.internal:5433/stract?sslmode=require",
            "postgresql",
            "postgresql://reports:s3cret@db.internal:5433/stract?sslmode=require",
            "postgresql://db.internal:5433/stract",
        ),
        ("postgres://db/stract", "postgresql", "postgresql://db/stract", "postgresql://db/stract"),
        (
            "postgresql+psycopg://u@h/d",
            "postgresql",
            "postgresql://u@h/d",
            "postgresql://h/d",
        ),
    ],
)
def test_store_urls(url: str, dialect: str, target: str, shown: str) -> None:
    location = parse_store_url(url)
    assert (location.dialect, location.target, location.shown) == (dialect, target, shown)
    assert "s3cret" not in repr(location)


def test_a_store_password_is_a_secret() -> None:
    settings = Settings(store_url="postgresql://reports:s3cret%2Fpass@db/stract")
    assert "s3cret/pass" in settings.secrets
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://x.db", "sqlite:///relative/file"),
        ("sqlite:///", "sqlite:///relative/file"),
        ("sqlite:///:memory:", "without :memory:"),
        ("sqlite:///x.db?mode=ro", "without :memory: or \\?options"),
        ("mysql://h/d", "give sqlite:///FILE"),
        ("postgresql://h:port/d", "cannot be read"),
        ("/tmp/x.db", "give sqlite:///FILE"),
    ],
)
def test_bad_store_urls_are_refused_at_start(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"STRACT_STORE_URL: .*{message}"):
        Settings.from_env({"STRACT_STORE_URL": url})


def test_a_postgres_store_without_psycopg_is_a_usage_error() -> None:
    # A fresh interpreter in which psycopg cannot be found, as if the extra were not installed.
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def __init__(self, finder): self.finder = finder\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'psycopg': return None\n"
        "        return self.finder.find_spec(name, path, target)\n"
        "sys.meta_path = [Hide(f) for f in sys.meta_path]\n"
        "from stract_reports.cli import main\n"
        "main(['export', 'geral', '--store-url', 'postgresql://db/stract'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == (
        "stract-reports: STRACT_STORE_URL=postgresql://... needs psycopg: "
        "pip install 'stract-reports[postgres]'\n"
    )
