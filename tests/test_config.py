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
