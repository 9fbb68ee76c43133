"""Slow and idle clients cost the real server a socket, not a thread: it keeps answering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from served import Served, serve
from stract_reports import serving
from stract_reports.config import Settings
from stract_reports.simulator import Simulator
from support import golden

pytestmark = pytest.mark.serve


@pytest.fixture
def served(simulator: Simulator) -> Iterator[Served]:
    with serve(simulator.url) as server:
        yield server


def _port(served: Served) -> int:
    return int(served.base.rsplit(":", 1)[1])


def test_dripping_and_idle_connections_leave_reports_and_healthz_answering(
    served: Served,
) -> None:
    """32 clients dripping a header line every 3 s and 200 silent ones, against the default
    16 threads: every report and health check is still answered (the bench times them)."""
    stop = threading.Event()
    idle = [socket.create_connection(("127.0.0.1", _port(served)), timeout=5) for _ in range(200)]

    def drip() -> None:
        with socket.create_connection(("127.0.0.1", _port(served)), timeout=5) as sock:
            sock.sendall(b"GET /geral HTTP/1.1\r\nHost: x\r\n")
            n = 0
            while not stop.wait(3):
                sock.sendall(f"X-Drip-{n}: a\r\n".encode())
                n += 1

    drippers = [threading.Thread(target=drip, daemon=True) for _ in range(32)]
    try:
        for thread in drippers:
            thread.start()
        time.sleep(1)
        with requests.Session() as http:
            for _ in range(3):
                assert http.get(f"{served.base}/healthz", timeout=5).status_code == 200
                response = http.get(f"{served.base}/geral/resumo", timeout=5)
                assert response.status_code == 200
                assert response.content == golden("geral/resumo")
    finally:
        stop.set()
        for thread in drippers:
            thread.join(10)
        for sock in idle:
            sock.close()


def test_a_client_too_slow_to_send_its_request_is_disconnected(simulator: Simulator) -> None:
    """A request not complete ``--request-timeout`` seconds (2 here; 20 by default) after its
    first byte: the server closes the connection at its next maintenance pass (2 s apart)."""
    with (
        serve(simulator.url, "--request-timeout", "2") as served,
        socket.create_connection(("127.0.0.1", _port(served)), timeout=5) as sock,
    ):
        sock.sendall(b"GET /geral HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < 40:
            try:
                sock.sendall(b"X-Drip: a\r\n")
                sock.settimeout(1)
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - start
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - start
                break
    assert closed_after is not None and 1.8 < closed_after < 8


def test_a_request_has_20_seconds_by_default() -> None:
    assert Settings.from_env({}).request_timeout == 20
    assert serving.run_server.__kwdefaults__["request_timeout"] == 20


def test_oversized_headers_are_refused(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", _port(served)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.0 431 Request Header Fields Too Large\r\n")
