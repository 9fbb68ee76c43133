"""What an app holds for its requests, each behind one typed accessor: Flask's
``app.extensions`` is keyed by strings here only.

``install`` gives an app its settings, its upstream client and its build gate (``create_app``
does); its modules read them with ``app_settings(app)`` and the like while the app is set up,
and with ``current_settings()`` and the like while it answers a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

from .config import Settings
from .gate import BuildGate

if TYPE_CHECKING:  # the client is imported by create_app, which builds it
    from .upstream import StractClient

_SETTINGS = "stract_settings"
_CLIENT = "stract_client"
_GATE = "stract_gate"


def install(app: Flask, *, settings: Settings, client: StractClient, gate: BuildGate) -> None:
    """Give ``app`` what its requests use: ``settings``, ``client``, ``gate``."""
    app.extensions[_SETTINGS] = settings
    app.extensions[_CLIENT] = client
    app.extensions[_GATE] = gate


def app_settings(app: Flask) -> Settings:
    """The settings ``app`` was built with."""
    return cast(Settings, app.extensions[_SETTINGS])


def app_client(app: Flask) -> StractClient:
    """``app``'s upstream client (one per process)."""
    return cast("StractClient", app.extensions[_CLIENT])


def app_gate(app: Flask) -> BuildGate:
    """The gate every report build of ``app`` passes."""
    return cast(BuildGate, app.extensions[_GATE])


def current_settings() -> Settings:
    """In a request: this app's settings."""
    return app_settings(current_app)


def current_client() -> StractClient:
    """In a request: this process's upstream client."""
    return app_client(current_app)


def current_gate() -> BuildGate:
    """In a request: this app's build gate."""
    return app_gate(current_app)
