"""The ``stract-reports`` command: serve, demo, export, record, simulator; keys, views and
audit over the store (``admin``)."""

from __future__ import annotations

import dataclasses
import errno
import importlib.util
import logging
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from .config import (
    AUDIT,
    DEMO,
    EXPORT,
    KEYS,
    PORTS,
    RECORD,
    SERVE,
    VIEWS,
    Settings,
    declared,
    flag_name,
)
from .formats import DEFAULT_FORMAT, EXCEL_PRESETS, FORMATS
from .ranges import number_words
from .redaction import install_log_redaction
from .reports.options import RATIO_MODES, RatioMode
from .reports.spec import all_reports
from .setting_values import SettingsError, parse_duration
from .urls import PROBE_PATHS

DEMO_PORT = 5000
DEMO_RECORD_EVERY = "1m"

_CLICK_TYPES: dict[Any, Any] = {int: int, "int": int, float: float, "float": float}


def setting_options(command_name: str) -> Callable[[Any], Any]:
    """Add a ``--flag`` for every setting declared for ``command_name`` (see config.py)."""

    def decorate(command: Any) -> Any:
        for f in reversed(list(declared())):
            if command_name not in f.metadata["commands"]:
                continue
            flag = flag_name(f)
            text = f.metadata["help"]
            help = f"{text[:1].upper()}{text[1:]} [{f.metadata['env']}]."
            if f.type in (bool, "bool"):
                negative = "--no-" + flag[2:]
                option = click.option(f"{flag}/{negative}", f.name, default=None, help=help)
            else:
                kind = _CLICK_TYPES.get(f.type, str)
                option = click.option(flag, f.name, type=kind, default=None, help=help)
            command = option(command)
        return command

    return decorate


def fail(message: str) -> NoReturn:
    """End the command with one line on stderr and exit status 1 (never a traceback)."""
    click.echo(f"stract-reports: {message}", err=True)
    sys.exit(1)


def port_in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails as the server would bind it (SO_REUSEADDR, as
    ``serving.bound_socket`` does: a port whose old connections linger in TIME_WAIT counts
    as free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def usage_line(message: str) -> NoReturn:
    """End the command with one line on stderr and the usage error's status, 2."""
    click.echo(f"stract-reports: {message}", err=True)
    sys.exit(2)


def check_port(port: int) -> None:
    """A port as ``serve --port`` takes it (the declared range of ``Settings.port``)."""
    if port not in PORTS:
        usage_line(f"--port must be {PORTS}, not {number_words(port)}")


def _settings(**flags: Any) -> Settings:
    try:
        settings = Settings.from_env(**flags)
    except SettingsError as exc:
        usage_line(str(exc))
    if settings.shared_url and importlib.util.find_spec("redis") is None:
        raise click.UsageError(
            "STRACT_SHARED_URL needs the Redis client: pip install 'stract-reports[shared]'"
        )
    install_log_redaction(settings.secrets)
    return settings


@click.group()
def main() -> None:
    """Stract ads reports as CSV, HTML and JSON, read from the Stract API at request time."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@setting_options(SERVE)
def serve(**flags: Any) -> None:
    """Serve the reports (waitress worker processes; SIGTERM finishes requests in flight)."""
    from . import close_app, create_app
    from .access import is_loopback
    from .serving import ListenError, WorkerFailed, run_server
    from .store import StoreTooNew
    from .store_link import prepare_store

    settings = _settings(**flags)
    try:
        unreachable = prepare_store(settings)
    except StoreTooNew as exc:
        click.echo(f"stract-reports: {exc.detail}", err=True)
        sys.exit(2)
    if unreachable:
        click.echo(f"stract-reports: {unreachable}", err=True)
    if not is_loopback(settings.host) and not settings.access_keys and not settings.public:
        click.echo(
            f"stract-reports: refusing to serve {settings.host} without access keys: set "
            "STRACT_ACCESS_KEYS (or --access-keys), or pass --public to serve it open",
            err=True,
        )
        sys.exit(2)
    try:
        run_server(
            lambda: create_app(settings=settings),
            close=close_app,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            threads=settings.threads,
            grace=settings.grace,
            request_timeout=settings.request_timeout,
            forwarded_headers=settings.trust_proxy,
            probes=PROBE_PATHS,
        )
    except (ListenError, WorkerFailed) as exc:
        click.echo(f"stract-reports: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option(
    "--port",
    type=int,
    default=None,
    help=f"Report server port [default: {DEMO_PORT}, or a free one if it is taken].",
)
@click.option("--latency-ms", default=50.0, show_default=True, help="Simulated upstream latency.")
@click.option(
    "--grow",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Percent the simulated lifetime metrics grow per minute (0: frozen data).",
)
@setting_options(DEMO)
def demo(port: int | None, latency_ms: float, grow: float, **flags: Any) -> None:
    """Run the Stract API simulator and the report server together, offline."""
    from . import close_app, create_app
    from .serving import WorkerFailed, run_server
    from .simulator import DEFAULT_TOKEN, Growth, Simulator

    host = "127.0.0.1"
    if port is not None:
        check_port(port)
    if port is not None and port_in_use(host, port):
        fail(f"port {port} is in use; choose another with --port (make demo PORT=...)")
    if port is None:
        port = DEMO_PORT
        if port_in_use(host, port):
            port = free_port(host)
            click.echo(f"Port {DEMO_PORT} is in use; serving on port {port} (choose with --port).")
    growth = Growth(grow / 100) if grow else None
    simulator = Simulator(latency=latency_ms / 1000, growth=growth).start()
    # A store of its own, new each run and removed at the end: the demo's history is the
    # demo's, recorded by every report and once a minute.
    folder = tempfile.mkdtemp(prefix="stract-demo-")

    def close(app: Any) -> None:
        close_app(app)
        # Here, not after run_server: a host with threads left (the simulator's) exits at once.
        shutil.rmtree(folder, ignore_errors=True)

    try:
        settings = _settings(
            api_url=simulator.url,
            api_token=DEFAULT_TOKEN,
            store_url=f"sqlite:///{Path(folder) / 'history.sqlite3'}",
            record_every=DEMO_RECORD_EVERY,
            **flags,
        )
        base = f"http://{host}:{port}"
        click.echo(f"Simulated Stract API: {simulator.url}")
        click.echo(f"Reports:  {base}/   (index)")
        for name in (s.name for s in all_reports(p.value for p in simulator.dataset.platforms)):
            click.echo(f"          {base}/{name}   {base}/{name}.html   {base}/{name}.json")
        click.echo(
            f"History:  {base}/history   (every read is recorded, and one a minute; numbers "
            f"grow {grow:g} % a minute: in a few minutes try {base}/geral/resumo.html?since=5m)"
        )
        click.echo("Press Ctrl+C to stop.")
        run_server(
            lambda: create_app(settings=settings),
            close=close,
            host=host,
            port=port,
            workers=1,
            threads=16,
            forwarded_headers=settings.trust_proxy,
            probes=PROBE_PATHS,
            log_level="warning",
        )
    except WorkerFailed as exc:
        fail(str(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _synthetic(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``ACCOUNTS,ADS`` as two whole numbers, or a message a person can act on."""
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise click.BadParameter(
            f"give two whole numbers, ACCOUNTS,ADS (e.g. 100,1000), not {value!r}"
        )
    accounts, ads = (int(part) for part in parts)
    if accounts < 1:
        raise click.BadParameter(f"ACCOUNTS must be at least 1, not {accounts}")
    return accounts, ads


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True)
@click.option("--latency-ms", default=0.0, show_default=True, help="Delay of every API call.")
@click.option("--jitter-ms", default=0.0, show_default=True, help="Random +/- on the delay.")
@click.option("--faults", default="", help="Fault plan, e.g. '429:first=1,500:p=0.05'.")
@click.option(
    "--synthetic",
    metavar="ACCOUNTS,ADS",
    callback=_synthetic,
    help="Generated data: accounts per platform, ads per account.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of synthetic data and faults.")
@click.option("--insights-page-size", type=int, help="Paginate insights (synthetic data).")
@click.option("--token", default=None, help="Bearer token to accept (default: the public one).")
@click.option(
    "--grow",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Percent the lifetime metrics grow per minute (0: the data stays as captured).",
)
def simulator(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    faults: str,
    synthetic: tuple[int, int] | None,
    seed: int,
    insights_page_size: int | None,
    token: str | None,
    grow: float,
) -> None:
    """Serve a simulated Stract API (real captured data by default)."""
    from .simulator import (
        DEFAULT_TOKEN,
        Growth,
        Simulator,
        parse_faults,
        real_dataset,
        synthetic_dataset,
    )

    check_port(port)
    try:
        plan = parse_faults(faults)
        if synthetic:
            accounts, ads = synthetic
            dataset = synthetic_dataset(
                accounts, ads, seed=seed, insights_page_size=insights_page_size
            )
        else:
            dataset = real_dataset()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        sim = Simulator(
            dataset,
            token=token or DEFAULT_TOKEN,
            latency=latency_ms / 1000,
            jitter=jitter_ms / 1000,
            faults=plan,
            seed=seed,
            host=host,
            port=port,
            growth=Growth(grow / 100) if grow else None,
        )
    except OSError as exc:
        reason = (
            "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        )
        fail(f"port {port} on {host} {reason}; choose another with --port")
    click.echo(f"Simulated Stract API on {sim.url} (stats: http://{host}:{sim.port}/_sim/stats)")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


@main.command()
@click.argument("report")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default=None,
    help=f"Output format [default: the report name's suffix, else {DEFAULT_FORMAT}].",
)
@click.option(
    "--excel",
    type=click.Choice(list(EXCEL_PRESETS)),
    default=None,
    help="CSV for Excel: 1 (BOM, comma, decimal point) or br (pt-BR: BOM, ';', decimal comma).",
)
@click.option(
    "--ratios",
    type=click.Choice(RATIO_MODES),
    default=None,
    help="Summaries: recompute ratios (the default), or sum every numeric column.",
)
@click.option(
    "--simulator",
    "use_simulator",
    is_flag=True,
    help="Export from the embedded simulator (offline), not the API.",
)
@setting_options(EXPORT)
def export(
    report: str,
    output: Path | None,
    fmt: str | None,
    excel: str | None,
    ratios: RatioMode | None,
    use_simulator: bool,
    **flags: Any,
) -> None:
    """Write one report, named as its URL with the server's query options after a ?: geral,
    geral/resumo.json, 'geral?_col=Platform,Spend', 'geral/resumo.csv?since=7d&_by=Country'."""
    from .exporting import check_output, describe, export_report, plan_export, write_output

    # The one line below is the whole story: no retry warnings before it.
    logging.getLogger().setLevel(logging.ERROR)
    if use_simulator and flags.get("api_url"):
        raise click.UsageError("--simulator and --api-url are two different upstreams: pick one")
    try:
        plan = plan_export(report, fmt=fmt, excel=excel, ratios=ratios)
        if output is not None:
            check_output(output)
        with _upstream(use_simulator) as upstream:
            settings = _settings(**{**flags, **upstream})
            if use_simulator and not settings.store_url:
                # The embedded simulator's numbers are no upstream's history: kept out of the
                # default store (a store named by STRACT_STORE_URL or --store-url records them).
                settings = dataclasses.replace(settings, store_url="off")
            data = export_report(settings, plan, show_progress=sys.stderr.isatty())
        if output is None:
            sys.stdout.buffer.write(data)
        else:
            write_output(output, data)
    except click.ClickException:
        raise
    except Exception as exc:  # one line, never a traceback: see exporting.describe
        fail(describe(exc))


@main.command()
@setting_options(RECORD)
def record(**flags: Any) -> None:
    """Read every platform once and record it in the store (for cron); prune by --keep."""
    from .exporting import describe
    from .schedule import record_once

    logging.getLogger().setLevel(logging.ERROR)
    settings = _settings(**flags)
    try:
        info = record_once(settings)
    except Exception as exc:  # one line, never a traceback
        fail(describe(exc))
    click.echo(
        f"recorded {info.taken_at:%Y-%m-%dT%H:%M:%SZ}: {info.platforms} platform(s), "
        f"{info.accounts:,} accounts, {info.ads:,} ads, {info.changed:,} changed"
    )


@contextmanager
def _upstream(use_simulator: bool) -> Iterator[dict[str, str]]:
    """Settings that point at the embedded simulator while it runs, or none (the API)."""
    if not use_simulator:
        yield {}
        return
    from .simulator import DEFAULT_TOKEN, Simulator

    with Simulator() as sim:
        yield {"api_url": sim.url, "api_token": DEFAULT_TOKEN}


# ---------------------------------------------------------------------------------------------
# The owner's commands over the store: keys, views, audit (``admin`` does the work)


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

    settings = _settings(**flags)
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


@main.group()
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

    settings = _settings(**flags)
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


@main.group()
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


@main.command()
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
