"""One settings object for the whole program, read from the environment and flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PUBLIC_API_URL = "https://sidebar.stract.to/api"
# The token the Stract challenge published for everyone; a real one comes from the environment.
PUBLIC_API_TOKEN = "ProcessoSeletivoStract2025"

# Environment variable -> setting name.
ENVIRONMENT = {
    "STRACT_API_URL": "api_url",
    "STRACT_API_TOKEN": "api_token",
    "STRACT_API_TIMEOUT": "timeout",
    "STRACT_REPORT_DEADLINE": "deadline",
    "STRACT_CONCURRENCY": "concurrency",
    "STRACT_RETRIES": "retries",
    "STRACT_CACHE_TTL": "cache_ttl",
    "STRACT_OWNER_NAME": "owner_name",
    "STRACT_OWNER_EMAIL": "owner_email",
    "STRACT_OWNER_LINKEDIN": "owner_linkedin",
}


class SettingsError(ValueError):
    """A setting has a value the program cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Upstream location and credentials, time budgets, fan-out width and report owner."""

    api_url: str = PUBLIC_API_URL
    api_token: str = field(default=PUBLIC_API_TOKEN, repr=False)
    timeout: float = 10.0  # seconds to wait for one upstream response
    connect_timeout: float = 3.0
    deadline: float = 30.0  # seconds for a whole report, retries included
    concurrency: int = 32  # upstream calls in flight at once, per process
    retries: int = 3  # further attempts after a failed call
    backoff: float = 0.1  # first retry waits about this long, doubling each time
    backoff_max: float = 2.0
    retry_after_cap: float = 5.0  # a longer Retry-After is not waited for: 503 at once
    cache_ttl: float = 0.0  # reuse finished upstream reads this long; 0 = always read afresh
    owner_name: str = "Stract Reports"
    owner_email: str = "reports@stract-reports.example"
    owner_linkedin: str = "https://www.linkedin.com/company/stract"

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise SettingsError("the upstream URL must start with http:// or https://")
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        for name in ("timeout", "connect_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be a positive number of seconds")
        if self.concurrency < 1:
            raise SettingsError("concurrency must be at least 1")
        if self.retries < 0 or self.cache_ttl < 0:
            raise SettingsError("retries and cache_ttl cannot be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``STRACT_*`` environment variables, then explicit overrides (flags)."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for variable, name in ENVIRONMENT.items():
            if environ.get(variable, "") != "":
                values[name] = _convert(variable, environ[variable], types[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)


def _convert(variable: str, raw: str, kind: Any) -> Any:
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
    except ValueError:
        raise SettingsError(f"{variable} must be a number, not {raw!r}") from None
    return raw
