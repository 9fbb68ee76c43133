"""What an app holds for its requests, each behind one typed accessor: Flask's
``app.extensions`` is keyed by strings here only.

``install`` gives an app its settings, its upstream client, its build gate and its store with
the store's background recorder (None when ``STRACT_STORE_URL=off``) (``create_app`` does); its
modules read them with ``app_settings(app)`` and the like while the app is set up, and with
``current_settings()`` and the like while it answers a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

from .config import Settings
from .gate import BuildGate

if TYPE_CHECKING:  # the client and the store are opened by create_app
    from .store import Recorder, Store
    from .upstream import StractClient

_SETTINGS = "stract_settings"
_CLIENT = "stract_client"
_GATE = "stract_gate"
_STORE = "stract_store"
_RECORDER = "stract_recorder"


def install(
    app: Flask,
    *,
    settings: Settings,
    client: StractClient,
    gate: BuildGate,
    store: Store | None = None,
    recorder: Recorder | None = None,
) -> None:
    """Give ``app`` what its requests use: ``settings``, ``client``, ``gate``, and the store
    with its recorder (None: no store)."""
    app.extensions[_SETTINGS] = settings
    app.extensions[_CLIENT] = client
    app.extensions[_GATE] = gate
    app.extensions[_STORE] = store
    app.extensions[_RECORDER] = recorder


def app_settings(app: Flask) -> Settings:
    """The settings ``app`` was built with."""
    return cast(Settings, app.extensions[_SETTINGS])


def app_client(app: Flask) -> StractClient:
    """``app``'s upstream client (one per process)."""
    return cast("StractClient", app.extensions[_CLIENT])


def app_gate(app: Flask) -> BuildGate:
    """The gate every report build of ``app`` passes."""
    return cast(BuildGate, app.extensions[_GATE])


def app_store(app: Flask) -> Store | None:
    """``app``'s store (one per process), or None when it has none."""
    return cast("Store | None", app.extensions.get(_STORE))


def app_recorder(app: Flask) -> Recorder | None:
    """The background writer of ``app``'s store, or None when it has no store."""
    return cast("Recorder | None", app.extensions.get(_RECORDER))


def current_settings() -> Settings:
    """In a request: this app's settings."""
    return app_settings(current_app)


def current_client() -> StractClient:
    """In a request: this process's upstream client."""
    return app_client(current_app)


def current_gate() -> BuildGate:
    """In a request: this app's build gate."""
    return app_gate(current_app)


def current_store() -> Store | None:
    """In a request: this process's store, or None."""
    return app_store(current_app)


def current_recorder() -> Recorder | None:
    """In a request: the store's background writer, or None."""
    return app_recorder(current_app)
