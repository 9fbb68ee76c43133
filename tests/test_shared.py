"""Shared state across processes through a real ``redis-server`` on a free loopback port.

Needs Debian's ``redis-server``; without it the tests skip locally and fail in CI (``CI=true``),
as the browser tests do. Each server runs without persistence and stops with its test. Several
tests start separate processes (``spawn``): what they share is only what Redis carries.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from redisd import RedisServer
from stract_reports.config import Settings
from stract_reports.upstream.fleet import (
    NAMESPACE,
    BudgetTimeout,
    LocalBackend,
    RedisBackend,
    SharedError,
    SharedTimeout,
    open_backend,
    read_key,
)
from support import assert_rate_within, free_port

pytestmark = pytest.mark.redis

TOKEN = "bearer-token-never-in-redis"
ACCOUNT_TOKEN = "account-token-in-params"
KEY = read_key("api/insights", {"platform": "meta_ads", "token": ACCOUNT_TOKEN})
SPAWN = multiprocessing.get_context("spawn")
LOGGER = "stract_reports.upstream.fleet"


@pytest.fixture
def make_backend() -> Iterator[Callable[..., Any]]:
    """Backends for a Redis URL (settings and options by keyword), closed at the end."""
    opened: list[Any] = []

    def make(url: str, *, options: dict[str, Any] | None = None, **settings: Any) -> Any:
        backend = open_backend(_settings(url, **settings), **(options or {}))
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


def _settings(url: str, **overrides: Any) -> Settings:
    return Settings(api_url="http://127.0.0.1:9/api", api_token=TOKEN, shared_url=url, **overrides)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _append(path: Path, line: str) -> None:
    # One small O_APPEND write per line: lines from several processes never interleave.
    with open(path, "a") as f:
        f.write(line + "\n")


@contextmanager
def _reading_slowly(backend: Any, redis_server: RedisServer) -> Iterator[None]:
    """``backend`` holds the lock of ``KEY``, reading until the block ends."""
    release = threading.Event()

    def slow_read() -> bytes:
        release.wait(20)
        return b"late"

    thread = threading.Thread(
        target=lambda: backend.read_once(KEY, time.monotonic() + 30, slow_read)
    )
    thread.start()
    try:
        _wait_for(lambda: redis_server.client().keys("*:lock") != [])
        yield
    finally:
        release.set()
        thread.join(10)


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


# -- child processes (module level, so ``spawn`` can import them) ---------------------------------


def _many_identical_reads(
    url: str, workdir: str, threads: int, callers: int, go: Any, results: Any
) -> None:
    """``threads`` callers of one read; the read waits until every caller of the test entered."""
    counter, entered = Path(workdir, "reads"), Path(workdir, "entered")
    backend = open_backend(_settings(url))

    def read() -> bytes:
        _append(counter, str(os.getpid()))
        _wait_for(lambda: len(_lines(entered)) >= callers)
        time.sleep(1.0)  # the last caller to enter has surely asked Redis by now
        return f"body read by {os.getpid()}".encode()

    bodies: list[bytes] = []

    def caller() -> None:
        go.wait()
        _append(entered, str(os.getpid()))
        bodies.append(backend.read_once(KEY, time.monotonic() + 30, read))

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    backend.close()
    results.put(bodies)


def _read_forever(url: str, workdir: str, lock_ttl: float) -> None:
    """Take the read and never finish it: the test kills this process mid-read."""
    backend = open_backend(_settings(url), lock_ttl=lock_ttl)

    def read() -> bytes:
        _append(Path(workdir, "started"), str(os.getpid()))
        time.sleep(120)
        return b"never"

    backend.read_once(KEY, time.monotonic() + 120, read)


def _burst(url: str, workdir: str, rps: float, threads: int, calls: int, go: Any) -> None:
    """``threads`` × ``calls`` upstream calls, each after the fleet's budget grants it."""
    backend = open_backend(_settings(url, upstream_rps=rps))
    _append(Path(workdir, "ready"), str(os.getpid()))

    def caller() -> None:
        go.wait()
        for _ in range(calls):
            backend.acquire(time.monotonic() + 60)
            _append(Path(workdir, "calls"), repr(time.time()))

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    backend.close()


def _run_children(
    processes: list[Any], go: Any, *, ready: Callable[[], bool] | None = None
) -> None:
    for process in processes:
        process.start()
    if ready is not None:
        _wait_for(ready)
    go.set()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0


# -- single-flight ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("shared", "reads"), [(True, 1), (False, 20)])
def test_two_processes_of_ten_callers_share_one_read(
    redis_server: RedisServer, tmp_path: Path, shared: bool, reads: int
) -> None:
    url = redis_server.url if shared else ""
    go, results = SPAWN.Event(), SPAWN.Queue()
    children = [
        SPAWN.Process(target=_many_identical_reads, args=(url, str(tmp_path), 10, 20, go, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    go.set()
    bodies = results.get(timeout=60) + results.get(timeout=60)
    for child in children:
        child.join(30)
        assert child.exitcode == 0

    readers = _lines(tmp_path / "reads")
    assert len(readers) == reads
    if shared:
        assert bodies == [f"body read by {readers[0]}".encode()] * 20
    else:
        assert sorted(bodies) == sorted(f"body read by {pid}".encode() for pid in readers)


def test_a_reader_killed_mid_read_is_taken_over_within_the_lock_ttl(
    redis_server: RedisServer, tmp_path: Path, make_backend: Callable[..., Any]
) -> None:
    lock_ttl = 1.5
    reader = SPAWN.Process(target=_read_forever, args=(redis_server.url, str(tmp_path), lock_ttl))
    reader.start()
    try:
        _wait_for(lambda: len(_lines(tmp_path / "started")) == 1)
        waiter = make_backend(redis_server.url, options={"lock_ttl": lock_ttl})
        took_over: list[float] = []
        answer: list[bytes] = []

        def read() -> bytes:
            took_over.append(time.monotonic())
            return b"read by the waiter"

        thread = threading.Thread(
            target=lambda: answer.append(waiter.read_once(KEY, time.monotonic() + 30, read))
        )
        thread.start()
        time.sleep(lock_ttl + 0.5)  # the live reader renews its lock: nobody else reads
        assert took_over == []
        reader.kill()
        killed = time.monotonic()
        thread.join(30)
    finally:
        reader.kill()
        reader.join(10)
    assert answer == [b"read by the waiter"]
    assert len(took_over) == 1
    assert 0 <= took_over[0] - killed <= lock_ttl + 1.5


def test_a_failed_read_is_not_shared_and_a_waiter_reads_at_once(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    first = make_backend(redis_server.url, options={"lock_ttl": 10.0})
    second = make_backend(redis_server.url, options={"lock_ttl": 10.0})
    release = threading.Event()
    failed: list[BaseException] = []
    waiter_read: list[float] = []

    def failing_read() -> bytes:
        release.wait(10)
        raise ValueError("upstream said no")

    def reader() -> None:
        try:
            first.read_once(KEY, time.monotonic() + 30, failing_read)
        except ValueError as exc:
            failed.append(exc)

    def own_read() -> bytes:
        waiter_read.append(time.monotonic())
        return b"the waiter's own read"

    thread = threading.Thread(target=reader)
    thread.start()
    _wait_for(lambda: redis_server.client().keys("*:lock") != [])
    answer: list[bytes] = []
    waiting = threading.Thread(
        target=lambda: answer.append(second.read_once(KEY, time.monotonic() + 30, own_read))
    )
    waiting.start()
    time.sleep(0.3)
    released = time.monotonic()
    release.set()
    thread.join(10)
    waiting.join(10)
    assert [str(e) for e in failed] == ["upstream said no"]
    assert answer == [b"the waiter's own read"]
    # Handed over by the failed reader's message, not by its 10 s lock expiring.
    assert waiter_read[0] - released < 3.0


def test_a_waiter_keeps_its_own_deadline(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    first, second = make_backend(redis_server.url), make_backend(redis_server.url)
    with _reading_slowly(first, redis_server):
        started = time.monotonic()
        with pytest.raises(SharedTimeout):
            second.read_once(KEY, started + 0.5, lambda: b"must not be read")
        assert 0.5 <= time.monotonic() - started < 2.5


def test_an_abandoned_waiter_stops_waiting_at_once(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    first, second = make_backend(redis_server.url), make_backend(redis_server.url)
    abandoned = threading.Event()
    with _reading_slowly(first, redis_server):
        failed: list[BaseException] = []

        def waiter() -> None:
            try:
                second.read_once(KEY, time.monotonic() + 30, lambda: b"not read", abandoned)
            except SharedError as exc:
                failed.append(exc)

        waiting = threading.Thread(target=waiter)
        waiting.start()
        time.sleep(1.0)  # long enough for the poll to reach its longest pause
        assert waiting.is_alive()
        abandoned.set()
        left = time.monotonic()
        waiting.join(10)
        assert time.monotonic() - left < 1.0  # within a poll (0.2 s), not at the deadline
        assert [type(e) for e in failed] == [SharedError]


def test_a_finished_read_is_reused_only_within_cache_ttl(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    fresh = make_backend(redis_server.url)
    assert fresh.read_once(KEY, time.monotonic() + 5, lambda: b"first") == b"first"
    # Without a cache a later caller reads afresh: only a read in flight is shared.
    assert fresh.read_once(KEY, time.monotonic() + 5, lambda: b"second") == b"second"

    cached = make_backend(redis_server.url, cache_ttl=0.5)
    other = make_backend(redis_server.url, cache_ttl=0.5)
    assert cached.read_once(KEY, time.monotonic() + 5, lambda: b"third") == b"third"
    assert other.read_once(KEY, time.monotonic() + 5, lambda: b"not read") == b"third"
    time.sleep(0.7)
    assert other.read_once(KEY, time.monotonic() + 5, lambda: b"fourth") == b"fourth"


# -- what Redis holds ------------------------------------------------------------------------------


def _all_keys(server: RedisServer) -> dict[str, int]:
    """Every key the server holds, with its PTTL in ms (-1: no expiry)."""
    with server.client() as client:
        return {key.decode(): client.pttl(key) for key in client.scan_iter("*")}


def test_keys_are_namespaced_hashed_and_expire_on_their_own(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    options = {"handover": 1.0, "lock_ttl": 2.0}
    first = make_backend(redis_server.url, options=options, upstream_rps=50)
    second = make_backend(redis_server.url, options=options, upstream_rps=50)

    # A read nobody else waits for leaves nothing behind.
    assert first.read_once(KEY, time.monotonic() + 5, lambda: b"alone") == b"alone"
    assert _all_keys(redis_server) == {}

    release = threading.Event()

    def held_read() -> bytes:
        release.wait(10)
        return b"shared body"

    answers: list[bytes] = []
    thread = threading.Thread(
        target=lambda: answers.append(first.read_once(KEY, time.monotonic() + 10, held_read))
    )
    thread.start()
    _wait_for(lambda: any(key.endswith(":lock") for key in _all_keys(redis_server)))
    joined = threading.Thread(
        target=lambda: answers.append(second.read_once(KEY, time.monotonic() + 10, bytes))
    )
    joined.start()
    _wait_for(lambda: any(":join:" in key for key in _all_keys(redis_server)))
    lock_ttl = [ttl for key, ttl in _all_keys(redis_server).items() if key.endswith(":lock")]
    assert len(lock_ttl) == 1 and 0 < lock_ttl[0] <= 2000
    release.set()
    thread.join(10)
    joined.join(10)
    assert answers == [b"shared body", b"shared body"]

    first.store_shape(b"opaque shape", 3.0)
    first.acquire(time.monotonic() + 5)
    first.back_off(0.5)
    keys = _all_keys(redis_server)
    kinds = sorted(key.rsplit(":", 1)[-1] if ":res:" not in key else "res" for key in keys)
    assert kinds == ["pause", "res", "shape", "tat"]
    for key, ttl in keys.items():
        assert key.startswith(NAMESPACE)
        assert 0 < ttl <= 3000, key  # every key expires, none later than the shape's TTL
        for secret in (TOKEN, ACCOUNT_TOKEN, "meta_ads", "insights"):
            assert secret not in key
    with redis_server.client() as client:
        for key in keys:
            assert TOKEN.encode() not in client.get(key)
    assert next(ttl for key, ttl in keys.items() if ":res:" in key) <= 1000

    time.sleep(1.2)  # the handover, the lock and the back-off are gone; the shape remains
    assert [key.rsplit(":", 1)[-1] for key in _all_keys(redis_server)] == ["shape"]
    assert second.load_shape() == b"opaque shape"


def test_the_shape_is_shared_by_processes_of_one_upstream_and_token_only(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    first, second = make_backend(redis_server.url), make_backend(redis_server.url)
    assert second.load_shape() is None
    first.store_shape(b"\x00shape bytes\xff", 0.5)
    assert second.load_shape() == b"\x00shape bytes\xff"
    stranger = open_backend(
        Settings(api_url="http://127.0.0.1:9/api", api_token="other", shared_url=redis_server.url)
    )
    try:
        assert stranger.load_shape() is None
    finally:
        stranger.close()
    time.sleep(0.7)
    assert second.load_shape() is None
    assert first.load_shape() is None


# -- rate budget -----------------------------------------------------------------------------------


def test_the_rate_budget_holds_for_the_whole_fleet_under_a_burst(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rps, processes, threads, calls = 10.0, 3, 4, 2
    go = SPAWN.Event()
    children = [
        SPAWN.Process(
            target=_burst, args=(redis_server.url, str(tmp_path), rps, threads, calls, go)
        )
        for _ in range(processes)
    ]
    _run_children(children, go, ready=lambda: len(_lines(tmp_path / "ready")) == processes)
    times = sorted(float(line) for line in _lines(tmp_path / "calls"))
    assert len(times) == processes * threads * calls
    assert_rate_within(times, rps)


def test_a_back_off_holds_every_process_until_it_ends(
    redis_server: RedisServer, make_backend: Callable[..., Any]
) -> None:
    told, other = make_backend(redis_server.url), make_backend(redis_server.url)
    told.back_off(1.0)
    started = time.monotonic()
    with pytest.raises(BudgetTimeout) as refused:
        other.acquire(started + 0.2)
    assert time.monotonic() - started < 0.9  # refused at once, not after waiting
    assert 0.5 < refused.value.retry_after <= 1.0
    other.acquire(started + 10)
    assert 0.9 <= time.monotonic() - started < 3.0


# -- Redis down ------------------------------------------------------------------------------------


def test_redis_stopped_mid_run_falls_back_and_logs_each_change_once(
    make_redis: Callable[..., RedisServer],
    make_backend: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = make_redis(password="redis-password-never-logged")
    backend = make_backend(server.url, shared_retry=0.3, upstream_rps=100)
    assert backend.state == "connected"
    assert backend.read_once(KEY, time.monotonic() + 5, lambda: b"before") == b"before"

    server.stop()
    for probe in range(3):  # each round outlasts the retry interval: Redis is asked again
        started = time.monotonic()
        for n in range(5):
            body = b"%d" % n
            assert backend.read_once(KEY, time.monotonic() + 5, lambda b=body: b) == body
            backend.acquire(time.monotonic() + 5)
            backend.store_shape(b"kept here", 10)
            assert backend.load_shape() == b"kept here"
            backend.back_off(0.01)
        assert time.monotonic() - started < 2.0, probe  # each call fell back at once
        assert backend.state == "down"
        time.sleep(0.35)

    server.start()
    time.sleep(0.4)
    assert backend.read_once(KEY, time.monotonic() + 5, lambda: b"after") == b"after"
    assert backend.state == "connected"

    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 2
    assert "unreachable" in messages[0] and f"127.0.0.1:{server.port}/0" in messages[0]
    assert "answers again" in messages[1]
    for message in messages:
        for secret in ("redis-password-never-logged", TOKEN):
            assert secret not in message


def test_no_redis_at_start_means_in_process_behaviour_at_once(
    make_backend: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    started = time.monotonic()
    backend = make_backend(f"redis://127.0.0.1:{free_port()}/0")
    assert backend.state == "down"
    assert backend.read_once(KEY, time.monotonic() + 5, lambda: b"own") == b"own"
    assert time.monotonic() - started < 2.0
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1


# -- without Redis ---------------------------------------------------------------------------------


def test_without_a_shared_url_the_backend_is_this_process_alone() -> None:
    backend = open_backend(_settings("", upstream_rps=20))
    assert isinstance(backend, LocalBackend) and not isinstance(backend, RedisBackend)
    assert backend.state == "off"
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return b"%d" % len(reads)

    assert [backend.read_once(KEY, time.monotonic() + 1, read) for _ in range(2)] == [b"1", b"2"]
    assert backend.load_shape() is None
    backend.store_shape(b"mine", 0.3)
    assert backend.load_shape() == b"mine"

    started = time.monotonic()
    for _ in range(6):
        backend.acquire(started + 5)
    assert time.monotonic() - started >= 5 / 20 * 0.9  # six calls span five intervals
    backend.back_off(0.5)
    with pytest.raises(BudgetTimeout):
        backend.acquire(time.monotonic() + 0.1)
    time.sleep(0.3)
    assert backend.load_shape() is None
    backend.close()


def test_a_closed_backend_answers_on_its_own_and_logs_nothing(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    backend = open_backend(_settings(redis_server.url))
    assert backend.read_once(KEY, time.monotonic() + 5, lambda: b"open") == b"open"
    backend.close()
    assert backend.read_once(KEY, time.monotonic() + 5, lambda: b"closed") == b"closed"
    backend.acquire(time.monotonic() + 5)
    assert [r for r in caplog.records if r.name == LOGGER] == []
