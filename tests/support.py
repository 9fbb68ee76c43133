"""What several test files share: the report names, free ports, a real HTTP server for an app."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from stract_reports.simulator.server import shutdown_now

GOLDEN = Path(__file__).parent / "golden"
# The console script installed next to this interpreter (the project's virtualenv).
CLI = str(Path(sys.executable).with_name("stract-reports"))
# Every report of the real dataset, in the order the index lists them.
REPORTS = [
    "geral",
    "geral/resumo",
    "meta_ads",
    "meta_ads/resumo",
    "ga4",
    "ga4/resumo",
    "tiktok_insights",
    "tiktok_insights/resumo",
]


# The markers of the test being run (conftest keeps them current), for the helpers below.
RUNNING_MARKS: set[str] = set()


def require_mark(name: str) -> None:
    """Fail a test that starts a process or service its markers do not name: ``make check``
    selects tests by marker (pyproject.toml) and must start none."""
    if name not in RUNNING_MARKS:
        raise AssertionError(f"this test starts a {name} process: mark it @pytest.mark.{name}")


def in_ci() -> bool:
    """Whether this runs in CI, where a missing Chromium or Redis is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def assert_rate_within(times: list[float], rps: float) -> None:
    """Upstream calls at ``times`` (sorted seconds) kept to ``rps`` a second, and spent:
    the mean rate at most 10% above it, no second with more than ``rps + 2`` calls, and the
    rate not starved (at least a third of it)."""
    rate = (len(times) - 1) / (times[-1] - times[0])
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert rate <= rps * 1.1
    assert busiest <= rps + 2
    assert rate >= rps / 3  # the budget is spent, not wasted waiting


def golden(report: str) -> bytes:
    """The expected CSV bytes of a report on the real dataset."""
    return (GOLDEN / f"{report.replace('/', '-')}.csv").read_bytes()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    """An API URL on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}/api"


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind a real threaded werkzeug server on loopback; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        shutdown_now(server)
        server.server_close()
        thread.join()


class FixedAnswer(BaseHTTPRequestHandler):
    """Answers every GET with the server's ``status`` and ``body``, and counts the calls."""

    server: Any

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self.server.calls += 1
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


@contextmanager
def fixed_upstream(status: int, body: bytes = b'{"detail": "no"}') -> Iterator[SimpleNamespace]:
    """A loopback upstream that answers one status and body to everything: ``.url``, ``.server``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FixedAnswer)
    server.daemon_threads = True
    server.status, server.body, server.calls = status, body, 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/api", server=server)
    finally:
        shutdown_now(server)
        server.server_close()
        thread.join()


def read_upstream(api_url: str) -> tuple[list[Any], list[Any]]:
    """One complete read of every platform, as a report makes it: the platform list and the
    platforms' data (``records.Platform`` and ``records.PlatformData``, tokens included)."""
    from stract_reports.config import Settings
    from stract_reports.upstream import FetchLimits, StractClient, fetch_report_data

    settings = Settings(api_url=api_url, store_url="off")
    limits = FetchLimits.from_settings(settings)
    with StractClient(settings) as client:
        read = fetch_report_data(client, None, limits)
        return read.platforms, read.data


def recorded_form(data: Any) -> str:
    """``PlatformData`` as the store keeps it, as text that tells types and digits apart
    (``Decimal('5.50')`` from ``Decimal('5.5')``, ``1`` from ``True``): platform, fields,
    and each account's id, name and rows; no token."""
    return repr(
        [
            (p.platform, p.fields, [(a.account.id, a.account.name, a.rows) for a in p.accounts])
            for p in data
        ]
    )
