"""A real ``redis-server`` on a free loopback port for the tests (Debian's ``redis-server``).

Without it the tests that need one skip locally and fail in CI (``CI=true``), as the browser
tests do (the ``make_redis`` and ``redis_server`` fixtures in conftest.py decide).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from support import free_port

REDIS_SERVER = Path("/usr/bin/redis-server")


class RedisServer:
    """One ``redis-server`` on a free loopback port, no persistence; can stop and start again."""

    def __init__(self, workdir: Path, password: str = "") -> None:
        self.port = free_port()
        self.password = password
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain client, for the tests to look at what the server holds."""
        return redis.Redis.from_url(self.url)

    def start(self) -> RedisServer:
        args = [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        args += ["--loglevel", "warning"]
        if self.password:
            args += ["--requirepass", self.password]
        with open(self.workdir / f"redis-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        give_up = time.monotonic() + 10
        while True:
            try:
                with self.client() as probe:
                    probe.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > give_up:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
