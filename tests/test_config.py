"""Settings come from defaults, then the environment, then flags; bad values fail at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from stract_reports.config import PUBLIC_API_URL, Settings, SettingsError, settings_table


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
        ({"STRACT_MAX_PAGES": "0"}, "max_pages must be at least 1"),
        ({"STRACT_SHARED_URL": "http://x"}, "must start with redis://"),
        ({"STRACT_CONCURRENCY": "0"}, "concurrency must be at least 1"),
        ({"STRACT_API_TIMEOUT": "-1"}, "timeout must be a positive number"),
        ({"STRACT_API_URL": "ftp://x"}, "must start with http"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_switches_read_the_usual_words(raw: str, expected: bool) -> None:
    assert Settings.from_env({"STRACT_SPECULATE": raw}).speculate is expected


def test_access_keys_are_a_comma_list_and_secret() -> None:
    settings = Settings.from_env({"STRACT_ACCESS_KEYS": " k-one , k-two,, "})
    assert settings.access_keys == ("k-one", "k-two")
    assert "k-one" not in repr(settings)
    assert set(settings.secrets) == {settings.api_token, "k-one", "k-two"}
    assert Settings(access_keys="a,b").access_keys == ("a", "b")  # type: ignore[arg-type]


def test_the_readme_configuration_table_is_the_declared_one() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    assert settings_table() in readme
