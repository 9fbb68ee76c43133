"""Fixtures: the simulator on a free loopback port, the report app pointed at it, and real
Redis servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hostile import HostileUpstream
from redisd import REDIS_SERVER, RedisServer
from stract_reports import close_app, create_app
from stract_reports.config import Settings
from stract_reports.simulator import Simulator
from support import RUNNING_MARKS, fixed_upstream, in_ci, require_mark

# Fast retries keep failure tests short; the behaviour is the same as in production.
FAST = {"timeout": 2.0, "deadline": 10.0, "backoff": 0.01, "backoff_max": 0.05}


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
