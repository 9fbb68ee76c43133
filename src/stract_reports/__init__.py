"""stract-reports: CSV, HTML and JSON reports over the Stract ads API, read at request time.

Importing the package (or its pure layers, ``reports`` and ``render``) loads neither Flask nor
the upstream client: ``create_app`` imports them when an app is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Settings

if TYPE_CHECKING:
    from flask import Flask


def create_app(
    test_config: dict[str, Any] | None = None, *, settings: Settings | None = None
) -> Flask:
    """Build the report server: settings, one upstream client, memory budget and store per
    process (and the recording schedule, when set), views, errors, access. ``StoreTooNew``
    when the store is newer than this program; a store that cannot be reached yet is retried in
    the background."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import access, error_pages, extensions, history_page, security, views
    from .gate import BuildGate
    from .history import SourceCache
    from .memory import MemoryBudget, use_few_arenas
    from .redaction import install_log_redaction
    from .schedule import Schedule
    from .store_link import StoreLink
    from .upstream import StractClient

    # No static folder: /static/... would answer Flask's own 404, outside our error shape.
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # column order is the contract
    app.config.from_mapping(test_config or {})
    settings = settings or Settings.from_env()
    install_log_redaction(settings.secrets)
    # Opened here, in each process (after serve forks its workers): connections are not shared.
    client = StractClient(settings)
    store = StoreLink(settings)
    try:
        store.open()
    except BaseException:
        client.close()
        raise
    gate = BuildGate(settings.max_builds)
    budget = MemoryBudget(settings.memory_budget)
    use_few_arenas()  # before the server's threads start: what one frees, another reuses
    budget.reclaim = gate.drop_finished  # builds kept for late requests go before a refusal
    extensions.install(
        app,
        settings=settings,
        client=client,
        gate=gate,
        budget=budget,
        store=store,
        sources=SourceCache(),
    )
    if settings.record_interval is not None:
        schedule = Schedule(client, store, settings.record_interval).start()
        extensions.install_schedule(app, schedule)
    if settings.trust_proxy:
        # One proxy in front terminates TLS: its headers say how (Secure cookies) and for whom
        # (the throttle's client address). Without the setting a client could forge them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    views.init_app(app)
    history_page.init_app(app)
    error_pages.init_app(app)
    security.init_app(app)
    access.init_app(app)
    return app


def close_app(app: Flask) -> None:
    """Release what ``create_app`` opened: the schedule, the upstream client's threads and
    connections, and the store (what its recorder holds is written first)."""
    from .extensions import app_client, app_schedule, app_store

    schedule = app_schedule(app)
    if schedule is not None:
        schedule.stop()
    app_client(app).close()
    app_store(app).close()


__all__ = ["Settings", "close_app", "create_app"]
