"""A real ``stract-reports serve`` subprocess on loopback, for the serving and access tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import requests

from support import CLI, free_port, require_mark


@dataclass
class Served:
    """The server's base URL, its process and its log (stderr), readable at any time."""

    base: str
    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    def log(self) -> str:
        """Everything the server has written to stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM; the exit status (the test fails if it takes longer than ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@contextlib.contextmanager
def serve(
    api_url: str, *args: str, env: dict[str, str] | None = None, ready: str = "/healthz"
) -> Iterator[Served]:
    """``stract-reports serve --port P --api-url API_URL ARGS``; yields once ``ready`` answers.
    No store unless ``env`` names one (``STRACT_STORE_URL``), as in conftest's ``FAST``."""
    require_mark("serve")
    port = free_port()
    command: Sequence[str] = [CLI, "serve", "--port", str(port), "--api-url", api_url, *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRACT_")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env={**environ, "STRACT_STORE_URL": "off", **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        served = Served(f"http://127.0.0.1:{port}", process, log)
        try:
            until = time.monotonic() + 20
            while True:
                assert process.poll() is None, served.log()
                try:
                    requests.get(served.base + ready, timeout=1).close()
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < until, served.log()
                    time.sleep(0.1)
            yield served
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
