"""Production serving under gunicorn (gthread workers), started from our own CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in each worker after the fork: every worker gets its own pool and sessions.
        return self._factory()


def run_gunicorn(
    factory: Callable[[], Flask],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    deadline: float,
    log_level: str = "info",
) -> None:
    """Serve the app until SIGINT/SIGTERM, finishing requests in flight before exiting."""
    _Gunicorn(
        factory,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            # A worker busy on a report must not be killed before the report's own deadline.
            "timeout": int(deadline) + 30,
            "graceful_timeout": int(deadline) + 5,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": log_level,
        },
    ).run()
