"""Settings come from defaults, then the environment, then flags; bad values fail at start."""

from __future__ import annotations

import pytest

from stract_reports.config import PUBLIC_API_URL, Settings, SettingsError


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
        ({"STRACT_CONCURRENCY": "many"}, "STRACT_CONCURRENCY must be a number"),
        ({"STRACT_CONCURRENCY": "0"}, "concurrency must be at least 1"),
        ({"STRACT_API_TIMEOUT": "-1"}, "timeout must be a positive number"),
        ({"STRACT_API_URL": "ftp://x"}, "must start with http"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
