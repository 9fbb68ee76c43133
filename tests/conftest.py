"""Fixtures: the simulator on a free loopback port, the report app pointed at it, real
Redis servers, a real PostgreSQL, and stores on both databases.

No test writes into the real home directory: the whole run (and every process it starts)
gets its own ``XDG_STATE_HOME``, a temporary folder, before any test runs, so the default
store (``Settings().store``) is a file there; and the apps made here have the store off
unless a test asks for one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import pgserver
from hostile import HostileUpstream
from pgserver import PostgresServer
from redisd import REDIS_SERVER, RedisServer
from stract_reports import close_app, create_app
from stract_reports.config import Settings
from stract_reports.simulator import Simulator
from stract_reports.store import Store, open_store
from support import RUNNING_MARKS, fixed_upstream, in_ci, require_mark

# Fast retries keep failure tests short; the behaviour is the same as in production. No
# store: a test that records says where.
FAST = {"timeout": 2.0, "deadline": 10.0, "backoff": 0.01, "backoff_max": 0.05, "store_url": "off"}
_STATE_HOME = "XDG_STATE_HOME"


def pytest_configure(config: pytest.Config) -> None:
    """Point the default store of this run and its subprocesses at a temporary folder."""
    config.stash[_state_key] = (
        os.environ.get(_STATE_HOME),
        tempfile.mkdtemp(prefix="stract-state-"),
    )
    os.environ[_STATE_HOME] = config.stash[_state_key][1]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the environment back and remove the temporary state folder."""
    before, folder = config.stash[_state_key]
    if before is None:
        os.environ.pop(_STATE_HOME, None)
    else:
        os.environ[_STATE_HOME] = before
    shutil.rmtree(folder, ignore_errors=True)


_state_key = pytest.StashKey[tuple[str | None, str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note the test's markers before its fixtures start anything (``support.require_mark``)."""
    RUNNING_MARKS.clear()
    RUNNING_MARKS.update(mark.name for mark in item.iter_markers())


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators (``Simulator(**kwargs)``) that stop when the test ends."""
    started: list[Simulator] = []

    def make(*args: Any, **kwargs: Any) -> Simulator:
        sim = Simulator(*args, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(make_simulator: Callable[..., Simulator]) -> Simulator:
    """The simulator serving the real captured dataset."""
    return make_simulator()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Report apps for a simulator, with settings overridden by keyword."""
    apps: list[Flask] = []

    def make(sim: Simulator, **overrides: Any) -> Flask:
        settings = Settings(api_url=sim.url, **{**FAST, **overrides})
        app = create_app({"TESTING": True}, settings=settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app: Callable[..., Flask], simulator: Simulator) -> Flask:
    """The report app reading the real-data simulator."""
    return make_app(simulator)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def make_hostile() -> Iterator[Callable[..., HostileUpstream]]:
    """Start hostile upstreams (``HostileUpstream(tamper, **kwargs)``) that stop at the end."""
    with ExitStack() as stack:
        yield lambda tamper=None, **kwargs: stack.enter_context(HostileUpstream(tamper, **kwargs))


@pytest.fixture
def status_upstream() -> Iterator[Callable[..., Any]]:
    """Start loopback upstreams answering one fixed status (and body) to everything."""
    with ExitStack() as stack:
        yield lambda status, body=b'{"detail": "no"}': stack.enter_context(
            fixed_upstream(status, body)
        )


@pytest.fixture
def make_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start real Redis servers (``make_redis(password=...)``) that stop when the test ends."""
    if not REDIS_SERVER.is_file():
        reason = (
            f"a real Redis is needed but {REDIS_SERVER} is missing; "
            "install it with: apt-get install -y redis-server"
        )
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    require_mark("redis")
    started: list[RedisServer] = []

    def make(password: str = "") -> RedisServer:
        server = RedisServer(tmp_path, password).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def redis_server(make_redis: Callable[..., RedisServer]) -> RedisServer:
    """One real Redis for the test."""
    return make_redis()


def _postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster, removed afterwards; a skip where the server is not installed
    (a failure in CI, which installs it)."""
    reason = pgserver.missing()
    if reason is not None:
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole run (each test gets its own database: ``pg_url``)."""
    yield from _postgres()


@pytest.fixture
def own_pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of a test's own, to stop and start."""
    yield from _postgres()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database of the run's PostgreSQL, dropped at the end."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store's URL: a real SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A new, migrated store on each database, closed at the end."""
    opened = open_store(store_url)
    assert opened is not None
    yield opened
    opened.close()
