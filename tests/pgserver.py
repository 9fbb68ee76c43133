"""A real PostgreSQL server for the tests (Debian's ``postgresql`` package), like redisd.py.

``initdb`` makes a cluster in a temporary folder; the server listens on a free loopback port,
with its socket in that folder, and without durability (a test cluster: fsync off). PostgreSQL
refuses to run as root, so as root (CI, this machine) every command runs as the ``postgres``
user (``runuser``), who owns the folder; as anyone else it runs as that user. ``stop()`` and
``start()`` again keep the port and the data (the recorder test stops it mid-run).

Without the server binaries (or psycopg) the tests that need one skip locally and fail in CI
(the ``pg_server`` fixture in conftest.py decides).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from support import free_port, require_mark


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs, or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


PG_BIN = _bin_dir()
USER = "postgres"
_names = itertools.count(1)


def missing() -> str | None:
    """Why no test server can run here, or None."""
    if PG_BIN is None:
        return "a real PostgreSQL is needed: install it with apt-get install -y postgresql"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is needed: pip install -e '.[test]'"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"PostgreSQL refuses root, and there is no {USER!r} user to run it as"
    return None


class PostgresServer:
    """One PostgreSQL cluster on a free loopback port; can stop and start again."""

    def __init__(self) -> None:
        assert PG_BIN is not None
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="stract-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam(USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", USER, "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8")
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        conf = "".join(f"{name} = {value}\n" for name, value in settings.items())
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as file:
            file.write(conf)

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of one database of this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        assert PG_BIN is not None
        command = [*self._as_user, str(PG_BIN / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}"[-2000:])

    def start(self) -> PostgresServer:
        """Start the server and wait until it accepts connections."""
        require_mark("postgres")
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        """Stop the server now (open connections are cut), keeping its data."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Remove a database made by ``create_database``, whoever is still connected."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
