"""One settings object for the whole program, read from defaults, the environment and flags.

Each setting is declared once, as a field of ``Settings`` with its environment variable, help
text and the commands that take it as a flag (``setting(...)``). The environment parser, the
command-line options (``cli.py``) and the README's configuration table are derived from these
declarations. Reading one value from text (switches, durations, numbers, key lists) and
``SettingsError`` live in ``setting_values.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .ranges import Range, number_words
from .setting_values import (
    MIN_KEY_CHARS,
    SettingsError,
    check_keys,
    convert,
    key_list,
    optional_duration,
)
from .store_location import default_store_url, parse_store_url

PUBLIC_API_URL = "https://sidebar.stract.to/api"
# The token the Stract challenge published for everyone; a real one comes from the environment.
PUBLIC_API_TOKEN = "ProcessoSeletivoStract2025"

SERVE, DEMO, EXPORT, RECORD = "serve", "demo", "export", "record"
# The owner's commands over the store's keys, views and audit trail.
KEYS, VIEWS, AUDIT = "keys", "views", "audit"
GRACE = 20.0  # seconds requests in flight may take to finish after SIGTERM
REQUEST_TIMEOUT = 20.0  # seconds a client has to send one whole request
PORTS = Range(1, 65535)
HOUR, DAY = 3600.0, 86400.0
SECONDS = Range(0, HOUR, above=True)  # a time budget: more than nothing, at most an hour
_UPSTREAM = (SERVE, EXPORT, RECORD)
# Within a 512 MB instance: an idle process is about 40 MB, and what its reports hold is
# estimated generously (bench/memory.py compares the estimate with the resident size).
DEFAULT_MEMORY_BUDGET = 320 * 1024 * 1024
_SERVER = (SERVE, DEMO)


def setting(
    default: Any,
    help: str,
    *,
    env: str | None = None,
    commands: tuple[str, ...] = (),
    secret: bool = False,
    within: Range | None = None,
) -> Any:
    """Declare a setting: its default, what it means, its ``STRACT_*`` variable (None: not
    configurable from outside), the commands that offer it as a ``--flag``, and (numbers) the
    range of values it takes, checked at start."""
    metadata = {"help": help, "env": env, "commands": commands, "secret": secret, "range": within}
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Upstream location and credentials, limits, time budgets, access and report owner."""

    api_url: str = setting(
        PUBLIC_API_URL,
        "the API root, including /api",
        env="STRACT_API_URL",
        commands=(*_UPSTREAM, KEYS, VIEWS),
    )
    api_token: str = setting(
        PUBLIC_API_TOKEN,
        "bearer token; keep real ones in the environment",
        env="STRACT_API_TOKEN",
        commands=_UPSTREAM,
        secret=True,
    )
    timeout: float = setting(
        10.0,
        "seconds for one upstream response, the whole body included",
        env="STRACT_API_TIMEOUT",
        commands=_UPSTREAM,
        within=SECONDS,
    )
    connect_timeout: float = setting(3.0, "seconds to open one upstream connection", within=SECONDS)
    deadline: float = setting(
        30.0,
        "seconds for a whole report, retries included",
        env="STRACT_REPORT_DEADLINE",
        commands=_UPSTREAM,
        within=SECONDS,
    )
    concurrency: int = setting(
        32,
        "upstream calls in flight at once, per process",
        env="STRACT_CONCURRENCY",
        commands=_UPSTREAM,
        within=Range(1, 1024),
    )
    retries: int = setting(
        3,
        "further attempts after a failed call",
        env="STRACT_RETRIES",
        commands=_UPSTREAM,
        within=Range(0, 20),
    )
    backoff: float = setting(
        0.1, "first retry waits about this long, doubling each time", within=Range(0, 60)
    )
    backoff_max: float = setting(2.0, "the longest wait between two attempts", within=Range(0, 600))
    retry_after_cap: float = setting(
        5.0, "a longer Retry-After is not waited for: 503 at once", within=Range(0, HOUR)
    )
    cache_ttl: float = setting(
        0.0,
        "reuse finished upstream reads this many seconds (0: always read afresh)",
        env="STRACT_CACHE_TTL",
        commands=_UPSTREAM,
        within=Range(0, DAY),
    )
    max_pages: int = setting(
        10_000,
        "pages read at most of one list (accounts, fields, insights of one account)",
        env="STRACT_MAX_PAGES",
        commands=_UPSTREAM,
        within=Range(1, 10**7),
    )
    max_body_bytes: int = setting(
        64 * 1024 * 1024,
        "bytes of one upstream body at most, counted after decompression",
        env="STRACT_MAX_BODY_BYTES",
        commands=_UPSTREAM,
        within=Range(1, 2**34),
    )
    max_builds: int = setting(
        8,
        "distinct reports built at once per process; more answer 503 with Retry-After",
        env="STRACT_MAX_BUILDS",
        commands=(SERVE,),
        within=Range(1, 1024),
    )
    memory_budget: int = setting(
        DEFAULT_MEMORY_BUDGET,
        "bytes of report data one process holds at once (builds, slices, answers being sent); "
        "past it a report answers 503 with Retry-After",
        env="STRACT_MEMORY_BUDGET",
        commands=(SERVE,),
        within=Range(1024 * 1024, 1 << 40),
    )
    max_rows: int = setting(
        1_000_000,
        "ad rows one report reads at most; past them a 502 names the account",
        env="STRACT_MAX_ROWS",
        commands=_UPSTREAM,
        within=Range(1, 10**9),
    )
    speculate: bool = setting(
        True,
        "warm reports: issue the remembered upstream calls at once, then check them",
        env="STRACT_SPECULATE",
        commands=_UPSTREAM,
    )
    access_keys: tuple[str, ...] = setting(
        (),
        f"comma-separated keys of at least {MIN_KEY_CHARS} characters a client must present "
        "(Bearer or ?key=); empty: no check",
        env="STRACT_ACCESS_KEYS",
        commands=(SERVE,),
        secret=True,
    )
    key_failures: int = setting(
        20,
        "wrong access keys one client address may present per key_failure_window",
        within=Range(1, 10**6),
    )
    key_failure_window: float = setting(
        60.0,
        "seconds after a client's first wrong key in which its failures are counted",
        within=Range(0, DAY, above=True),
    )
    key_failure_clients: int = setting(
        10_000,
        "client addresses whose wrong keys are counted at once (the oldest forgotten)",
        within=Range(1, 10**7),
    )
    public: bool = setting(
        False,
        "allow serving a non-loopback address without access keys",
        env="STRACT_PUBLIC",
        commands=(SERVE,),
    )
    trust_proxy: bool = setting(
        False,
        "behind one TLS-terminating proxy: take the scheme and client address from its "
        "X-Forwarded-Proto and X-Forwarded-For (0: those headers are ignored)",
        env="STRACT_TRUST_PROXY",
        commands=(SERVE,),
    )
    shared_url: str = setting(
        "",
        "the Redis (redis://host:port/db) every process and host shares (empty: in-process only)",
        env="STRACT_SHARED_URL",
        commands=(SERVE,),
    )
    shared_retry: float = setting(
        3.0,
        "seconds between two probes of the shared Redis while it is unreachable",
        env="STRACT_SHARED_RETRY",
        commands=(SERVE,),
        within=SECONDS,
    )
    upstream_rps: float = setting(
        0.0,
        "upstream calls per second, fleet-wide with STRACT_SHARED_URL, else per process (0: none)",
        env="STRACT_UPSTREAM_RPS",
        commands=(SERVE,),
        within=Range(0, 100_000),
    )
    host: str = setting(
        "127.0.0.1",
        "the address serve listens on (a non-loopback one needs access keys, or --public)",
        env="STRACT_HOST",
        commands=(SERVE,),
    )
    port: int = setting(
        5000, "the port serve listens on", env="STRACT_PORT", commands=(SERVE,), within=PORTS
    )
    workers: int = setting(
        1,
        "serve's worker processes, sharing the listening socket",
        env="STRACT_WORKERS",
        commands=(SERVE,),
        within=Range(1, 64),
    )
    threads: int = setting(
        16,
        "threads per worker process answering requests",
        env="STRACT_THREADS",
        commands=(SERVE,),
        within=Range(1, 1024),
    )
    grace: float = setting(
        GRACE,
        "seconds requests in flight may take to finish after SIGTERM",
        env="STRACT_GRACE",
        commands=(SERVE,),
        within=Range(0, HOUR),
    )
    request_timeout: float = setting(
        REQUEST_TIMEOUT,
        "seconds a client has to send one whole request",
        env="STRACT_REQUEST_TIMEOUT",
        commands=(SERVE,),
        within=SECONDS,
    )
    owner_name: str = setting(
        "Stract Reports",
        "the report owner's name on /",
        env="STRACT_OWNER_NAME",
        commands=_SERVER,
    )
    owner_email: str = setting(
        "reports@stract-reports.example",
        "the owner's e-mail on /",
        env="STRACT_OWNER_EMAIL",
        commands=_SERVER,
    )
    owner_linkedin: str = setting(
        "https://www.linkedin.com/company/stract",
        "the owner's LinkedIn URL on /",
        env="STRACT_OWNER_LINKEDIN",
        commands=_SERVER,
    )
    store_url: str = setting(
        "",
        "the store of history, keys and views: sqlite:///FILE, postgresql://..., or off "
        "(empty: $XDG_STATE_HOME/stract-reports/store.sqlite3, else ~/.local/state/...)",
        env="STRACT_STORE_URL",
        commands=(*_UPSTREAM, KEYS, VIEWS, AUDIT),
        secret=True,  # a PostgreSQL URL may carry a password
    )
    keep: str = setting(
        "90d",
        "how long snapshots are kept (90s, 15m, 24h, 7d, 2w; off: forever); the newest read "
        "of each platform is always kept",
        env="STRACT_KEEP",
        commands=_UPSTREAM,
    )
    record_every: str = setting(
        "off",
        "read every platform on this schedule and record it (15m, 1h, ...; off: only what "
        "reports read)",
        env="STRACT_RECORD_EVERY",
        commands=(SERVE,),
    )

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise SettingsError("the upstream URL must start with http:// or https://")
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        if isinstance(self.access_keys, str):
            object.__setattr__(self, "access_keys", key_list(self.access_keys))
        check_keys(self.access_keys)
        for f in dataclasses.fields(self):
            value, within = getattr(self, f.name), f.metadata["range"]
            if within is not None and value not in within:
                raise SettingsError(f"{_source(f)} must be {within}, not {number_words(value)}")
        if self.shared_url and not self.shared_url.startswith(("redis://", "rediss://")):
            raise SettingsError("the shared URL must start with redis:// or rediss://")
        for name in ("keep", "record_every"):
            optional_duration(name, getattr(self, name))
        self._check_store()

    def _check_store(self) -> None:
        """A store URL the program can open: its form, and psycopg for PostgreSQL."""
        try:
            location = parse_store_url(self.store)
        except ValueError as exc:
            raise SettingsError(f"STRACT_STORE_URL: {exc}") from None
        if location.dialect == "postgresql" and importlib.util.find_spec("psycopg") is None:
            raise SettingsError(
                "STRACT_STORE_URL=postgresql://... needs psycopg: "
                "pip install 'stract-reports[postgres]'"
            )

    @property
    def store(self) -> str:
        """The store's URL: ``store_url``, or the per-user SQLite file when it is empty."""
        return self.store_url or default_store_url()

    @property
    def keep_for(self) -> timedelta | None:
        """How long snapshots are kept (None: forever)."""
        return optional_duration("keep", self.keep)

    @property
    def record_interval(self) -> timedelta | None:
        """The recording schedule's interval (None: no schedule)."""
        return optional_duration("record_every", self.record_every)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``STRACT_*`` environment variables, then explicit overrides (flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in declared():
            raw = environ.get(f.metadata["env"] or "", "")
            if raw != "":
                values[f.name] = convert(f.metadata["env"], raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured credential: what must never be echoed anywhere."""
        password = parse_store_url(self.store).password
        return tuple(s for s in (self.api_token, *self.access_keys, password) if s)


def declared() -> Iterator[dataclasses.Field[Any]]:
    """The settings that can be set from outside (environment and flags), in declared order."""
    return (f for f in dataclasses.fields(Settings) if f.metadata.get("env"))


def flag_name(f: dataclasses.Field[Any]) -> str:
    """A setting's command-line flag: ``max_pages`` -> ``--max-pages``."""
    return "--" + f.name.replace("_", "-")


def _source(f: dataclasses.Field[Any]) -> str:
    """How a person sets ``f``: "STRACT_PORT (--port)", or its name when only code does."""
    if not f.metadata["env"]:
        return f.name
    return f"{f.metadata['env']} ({flag_name(f)})" if f.metadata["commands"] else f.metadata["env"]


def settings_table() -> str:
    """The README's configuration table, derived from the declarations."""
    lines = ["| variable | flag | default | range | meaning |", "|---|---|---|---|---|"]
    for f in declared():
        default = "the public challenge token" if f.metadata["secret"] and f.default else f.default
        if isinstance(default, tuple):
            default = ",".join(default) or "empty"
        elif isinstance(default, bool):
            default = "1" if default else "0"
        elif isinstance(default, float):
            default = f"{default:g}"
        elif default == "":
            default = "empty"
        flag = flag_name(f)
        if f.type in (bool, "bool"):
            flag = f"{flag}/--no-{flag[2:]}"
        flags = f"`{flag}` ({', '.join(f.metadata['commands'])})"
        meaning = f.metadata["help"]
        within = f.metadata["range"]
        span = "" if within is None else within.span()
        lines.append(f"| `{f.metadata['env']}` | {flags} | `{default}` | {span} | {meaning} |")
    return "\n".join(lines)
