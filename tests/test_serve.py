"""``stract-reports serve``: gunicorn on loopback serves the same bytes and stops gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from stract_reports.simulator import Simulator
from support import CLI, free_port, golden


@pytest.fixture
def server(simulator: Simulator) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "STRACT_API_URL": simulator.url}
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", "2", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/healthz", timeout=1).close()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def test_gunicorn_serves_the_golden_reports(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    base, _ = server
    with requests.Session() as session:
        for report in ("geral", "meta_ads/resumo"):
            response = session.get(f"{base}/{report}", timeout=10)
            assert response.status_code == 200
            assert response.content == golden(report)
        assert session.get(f"{base}/readyz", timeout=10).json() == {
            "status": "ready",
            "platforms": 3,
        }


def test_sigterm_stops_gracefully(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    _, process = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert process.stderr is not None
    log = process.stderr.read().decode()
    assert "Listening at: http://127.0.0.1:" in log and "Shutting down" in log
