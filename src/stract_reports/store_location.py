"""Where the store is: a store URL parsed (SQLite file, PostgreSQL, or off), and the per-user
default. Below the settings, which check the URL at start, and below the store, which opens it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Where the history store lives when STRACT_STORE_URL is empty, below the XDG state folder.
STORE_FILE = Path("stract-reports", "store.sqlite3")


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store URL: ``dialect`` is ``sqlite``, ``postgresql`` or ``off``; ``target`` the
    file path (SQLite) or the libpq URI (PostgreSQL; secret: it may hold a password);
    ``shown`` the form for messages and logs, without user or password."""

    dialect: str
    target: str = dataclasses.field(default="", repr=False)
    shown: str = ""
    password: str = dataclasses.field(default="", repr=False)


STORE_OFF = "off"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def parse_store_url(url: str) -> StoreLocation:
    """A store URL, one of (``ValueError`` otherwise, naming them)::

    off                                  no store: history, scoped keys and views off
    sqlite:///relative/file.sqlite3      SQLAlchemy's form: three slashes, a relative path
    sqlite:////absolute/file.sqlite3     ... or four, for an absolute one
    postgresql://user:pass@host:5432/db  libpq's URI; postgres:// and SQLAlchemy's
                                         postgresql+psycopg:// too
    """
    text = url.strip()
    if text.lower() == STORE_OFF:
        return StoreLocation(STORE_OFF, "", STORE_OFF)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if not path:
            raise ValueError(
                "a SQLite store is sqlite:///relative/file or sqlite:////absolute/file"
            )
        if path == ":memory:" or "?" in path or "\x00" in path:
            raise ValueError("a SQLite store is a file path, without :memory: or ?options")
        return StoreLocation("sqlite", path, f"sqlite:///{path}")
    if scheme in _POSTGRES_SCHEMES:
        target = "postgresql://" + rest
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"the PostgreSQL URL cannot be read ({exc})") from None
        host = parts.hostname or "localhost"
        shown = f"postgresql://{host}{f':{port}' if port else ''}{parts.path}"
        return StoreLocation("postgresql", target, shown, unquote(parts.password or ""))
    raise ValueError("give sqlite:///FILE, sqlite:////ABSOLUTE/FILE, postgresql://... or off")


def default_store_url(environ: Mapping[str, str] | None = None) -> str:
    """``sqlite:////…/stract-reports/store.sqlite3`` under ``$XDG_STATE_HOME`` (when set to an
    absolute path, as the XDG spec asks), else under ``~/.local/state``."""
    environ = os.environ if environ is None else environ
    state = environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return "sqlite:///" + str(base / STORE_FILE)
