"""What an app holds for its requests, each behind one typed accessor: Flask's
``app.extensions`` is keyed by strings here only.

``install`` gives an app its settings, its upstream client, its build gate, its memory budget,
its store and the cache of sources read back from it (``create_app`` does;
``install_schedule`` its recording schedule); its modules read them with ``app_settings(app)``
and the like while the app is set up, and with ``current_settings()`` and the like while it
answers a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

from .config import Settings
from .gate import BuildGate
from .memory import MemoryBudget

if TYPE_CHECKING:  # imported by create_app, which builds them
    from .history import SourceCache
    from .schedule import Schedule
    from .store_link import StoreLink
    from .upstream import StractClient

_SETTINGS = "stract_settings"
_CLIENT = "stract_client"
_GATE = "stract_gate"
_BUDGET = "stract_budget"
_STORE = "stract_store"
_SOURCES = "stract_sources"
_SCHEDULE = "stract_schedule"


def install(
    app: Flask,
    *,
    settings: Settings,
    client: StractClient,
    gate: BuildGate,
    budget: MemoryBudget,
    store: StoreLink,
    sources: SourceCache,
) -> None:
    """Give ``app`` what its requests use: ``settings``, ``client``, ``gate``, ``budget``,
    ``store`` and the ``sources`` read back from it."""
    app.extensions[_SETTINGS] = settings
    app.extensions[_CLIENT] = client
    app.extensions[_GATE] = gate
    app.extensions[_BUDGET] = budget
    app.extensions[_STORE] = store
    app.extensions[_SOURCES] = sources


def app_settings(app: Flask) -> Settings:
    """The settings ``app`` was built with."""
    return cast(Settings, app.extensions[_SETTINGS])


def app_client(app: Flask) -> StractClient:
    """``app``'s upstream client (one per process)."""
    return cast("StractClient", app.extensions[_CLIENT])


def app_gate(app: Flask) -> BuildGate:
    """The gate every report build of ``app`` passes."""
    return cast(BuildGate, app.extensions[_GATE])


def app_budget(app: Flask) -> MemoryBudget:
    """The memory budget of ``app``'s reports (one per process)."""
    return cast(MemoryBudget, app.extensions[_BUDGET])


def install_schedule(app: Flask, schedule: Schedule) -> None:
    """Give ``app`` its recording schedule (``serve --record-every``)."""
    app.extensions[_SCHEDULE] = schedule


def app_schedule(app: Flask) -> Schedule | None:
    """``app``'s recording schedule, if it has one."""
    return cast("Schedule | None", app.extensions.get(_SCHEDULE))


def app_store(app: Flask) -> StoreLink:
    """``app``'s store (one per process), open or not, or off."""
    return cast("StoreLink", app.extensions[_STORE])


def current_settings() -> Settings:
    """In a request: this app's settings."""
    return app_settings(current_app)


def current_client() -> StractClient:
    """In a request: this process's upstream client."""
    return app_client(current_app)


def current_gate() -> BuildGate:
    """In a request: this app's build gate."""
    return app_gate(current_app)


def current_budget() -> MemoryBudget:
    """In a request: this process's memory budget."""
    return app_budget(current_app)


def current_store() -> StoreLink:
    """In a request: this process's store."""
    return app_store(current_app)


def current_sources() -> SourceCache:
    """In a request: the sources this process read back from the store."""
    return cast("SourceCache", current_app.extensions[_SOURCES])
