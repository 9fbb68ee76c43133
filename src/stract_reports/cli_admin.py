"""The owner's commands over the store: ``keys``, ``views`` and ``audit`` (``admin`` does the
work; these read the flags and print its lines). ``cli`` adds them to ``stract-reports``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .cli_support import command_settings, fail, setting_options
from .config import AUDIT, KEYS, VIEWS
from .setting_values import parse_duration


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``30d``, ``12h``... as a timedelta, or a message a person can act on."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@contextmanager
def _admin(**flags: Any) -> Iterator[Any]:
    """The store the command works on, closed at the end; every failure is one line (a usage
    error, exit 2, for a scope or name that cannot be; else exit 1)."""
    from .admin import AdminError, admin_store
    from .exporting import describe
    from .scope import ScopeError

    settings = command_settings(**flags)
    try:
        store = admin_store(settings)
    except AdminError as exc:
        click.echo(f"stract-reports: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        fail(describe(exc))
    try:
        yield settings, store
    except ScopeError as exc:
        raise click.UsageError(str(exc)) from None
    except (click.ClickException, SystemExit):
        raise
    except Exception as exc:
        fail(describe(exc))
    finally:
        store.close()


def _echo(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


@click.group()
def keys() -> None:
    """Scoped access keys, kept (hashed) in the store."""


@keys.command("add")
@click.argument("name")
@click.option("--platform", "platforms", multiple=True, help="A platform (its value) it sees.")
@click.option(
    "--account", "accounts", multiple=True, metavar="PLATFORM:ID", help="An account it sees."
)
@click.option("--column", "columns", multiple=True, metavar="LABEL", help="A column it sees.")
@click.option("--expires", callback=_duration, metavar="DURATION", help="e.g. 30d, 12h, 2w.")
@click.option("--no-check", is_flag=True, help="Do not check the scope against the upstream.")
@setting_options(KEYS)
def keys_add(
    name: str,
    platforms: tuple[str, ...],
    accounts: tuple[str, ...],
    columns: tuple[str, ...],
    expires: Any,
    no_check: bool,
    **flags: Any,
) -> None:
    """Make a key seeing only its scope; prints it once (the store keeps its hash)."""
    from .admin import check_scope, expiry, upstream_lists
    from .scope import Scope, scope_of
    from .store.keys import check_name
    from .store.times import now_utc

    with _admin(**flags) as (settings, store):
        check_name(name)
        scope = Scope(platforms, scope_of(accounts), columns)
        if not no_check:
            check_scope(scope, upstream_lists(settings))
        now = now_utc()
        record, key = store.keys.add(name, scope, now=now, expires=expiry(now, expires))
        until = (
            "never expires"
            if record.expires is None
            else f"expires {record.expires:%Y-%m-%d %H:%M} UTC"
        )
        click.echo(f"key {record.name!r}: {record.scope.describe()}; {until}", err=True)
        click.echo(key)
        click.echo(
            "Shown once: the store keeps only its hash. A client presents it as "
            "Authorization: Bearer KEY, or ?key=KEY.",
            err=True,
        )


@keys.command("accounts")
@setting_options(KEYS)
def keys_accounts(**flags: Any) -> None:
    """List every account the upstream serves: platform, account id, account name."""
    from .admin import account_lines, upstream_lists
    from .exporting import describe

    settings = command_settings(**flags)
    try:
        lines = account_lines(upstream_lists(settings))
    except Exception as exc:
        fail(describe(exc))
    _echo(lines)


@keys.command("list")
@setting_options(KEYS)
def keys_list(**flags: Any) -> None:
    """List every key: name, state, scope, created, expires, last used, uses."""
    from .admin import key_lines
    from .store.times import now_utc

    with _admin(**flags) as (_, store):
        _echo(key_lines(store.keys.list_all(), now_utc()))


@keys.command("revoke")
@click.argument("name")
@setting_options(KEYS)
def keys_revoke(name: str, **flags: Any) -> None:
    """Revoke a key and every view made with it: refused everywhere within a second."""
    from .store.times import now_utc

    with _admin(**flags) as (_, store):
        record = store.keys.revoke(name, now_utc())
        views = [v.name for v in store.views.list_all() if v.key.id == record.id]
        ended = f" and its views ({', '.join(views)})" if views else ""
        click.echo(f"revoked key {record.name!r}{ended}: every server refuses it within a second")


@click.group()
def views() -> None:
    """Saved views: one URL (/v/<id>) of a report with its options and a key's scope."""


@views.command("add")
@click.argument("name")
@click.argument("report")
@click.option("--key", "key_name", required=True, help="The key whose scope the view carries.")
@click.option(
    "--base-url",
    default="https://HOST",
    show_default=True,
    help="The server's address, for the printed URL and formulas.",
)
@click.option("--no-check", is_flag=True, help="Do not build the view once before saving it.")
@setting_options(VIEWS)
def views_add(
    name: str, report: str, key_name: str, base_url: str, no_check: bool, **flags: Any
) -> None:
    """Save REPORT (e.g. 'geral/resumo.csv?_by=Country') as a view; prints its URL once."""
    from .admin import check_view, formula_lines, parse_view
    from .store.errors import NotFound
    from .store.keys import check_name
    from .store.times import now_utc

    with _admin(**flags) as (settings, store):
        check_name(name)
        spec, fmt, options, query = parse_view(report)
        key = store.keys.get(key_name)
        now = now_utc()
        if key is None or not key.active(now):
            raise NotFound(f"no active key named {key_name!r}")
        if not no_check:
            check_view(settings, spec, fmt, options, key.scope)
        _, view_id = store.views.add(name, key_name, spec.name, fmt, query, now=now)
        click.echo(f"view {name!r}: {spec.name}.{fmt} with the scope of key {key_name!r}", err=True)
        _echo(formula_lines(base_url, view_id, fmt))
        click.echo(
            "Shown once: the store keeps only its hash. Revoking the view or its key ends it.",
            err=True,
        )


@views.command("list")
@setting_options(VIEWS)
def views_list(**flags: Any) -> None:
    """List every view: name, state, key, report, created."""
    from .admin import view_lines
    from .store.times import now_utc

    with _admin(**flags) as (_, store):
        _echo(view_lines(store.views.list_all(), now_utc()))


@views.command("revoke")
@click.argument("name")
@setting_options(VIEWS)
def views_revoke(name: str, **flags: Any) -> None:
    """Revoke a view: it answers 404 everywhere within a second."""
    from .store.times import now_utc

    with _admin(**flags) as (_, store):
        record = store.views.revoke(name, now_utc())
        click.echo(f"revoked view {record.name!r}: every server answers 404 within a second")


@click.command()
@click.option("--key", "key_name", help="Only the reads of this key (and of its views).")
@click.option("--since", callback=_duration, metavar="DURATION", help="e.g. 7d: the last week.")
@click.option("--limit", default=1000, show_default=True, help="At most this many entries.")
@setting_options(AUDIT)
def audit(key_name: str | None, since: Any, limit: int, **flags: Any) -> None:
    """Which key or view read which report, when, with what status (newest first)."""
    from .admin import audit_lines
    from .store.times import now_utc

    with _admin(**flags) as (_, store):
        start = None if since is None else now_utc() - since
        _echo(audit_lines(store.audit.query(key=key_name, since=start, limit=limit)))
