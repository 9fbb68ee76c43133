"""The ``stract-reports`` command: serve, demo, export, simulator."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .config import DEMO, EXPORT, SERVE, Settings, SettingsError, declared, flag_name
from .redaction import install_log_redaction
from .reports.names import RATIO_MODES, RatioMode, report_names
from .serving import GRACE

_CLICK_TYPES: dict[Any, Any] = {int: int, "int": int, float: float, "float": float}


def setting_options(command_name: str) -> Callable[[Any], Any]:
    """Add a ``--flag`` for every setting declared for ``command_name`` (see config.py)."""

    def decorate(command: Any) -> Any:
        for f in reversed(list(declared())):
            if command_name not in f.metadata["commands"]:
                continue
            flag = flag_name(f)
            help = f"{f.metadata['help'].capitalize()} [{f.metadata['env']}]."
            if f.type in (bool, "bool"):
                negative = "--no-" + flag[2:]
                option = click.option(f"{flag}/{negative}", f.name, default=None, help=help)
            else:
                kind = _CLICK_TYPES.get(f.type, str)
                option = click.option(flag, f.name, type=kind, default=None, help=help)
            command = option(command)
        return command

    return decorate


def _settings(**flags: Any) -> Settings:
    try:
        settings = Settings.from_env(**flags)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    install_log_redaction(settings.secrets)
    return settings


@click.group()
def main() -> None:
    """Stract ads reports as CSV, HTML and JSON, read from the Stract API at request time."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers", default=1, show_default=True, help="Worker processes sharing the socket."
)
@click.option("--threads", default=16, show_default=True, help="Threads per worker.")
@click.option(
    "--grace",
    default=GRACE,
    show_default=True,
    help="Seconds requests in flight may take to finish after SIGTERM.",
)
@setting_options(SERVE)
def serve(host: str, port: int, workers: int, threads: int, grace: float, **flags: Any) -> None:
    """Serve the reports (waitress worker processes; SIGTERM finishes requests in flight)."""
    from . import create_app
    from .access import is_loopback
    from .serving import ListenError, run_server

    settings = _settings(**flags)
    if not is_loopback(host) and not settings.access_keys and not settings.public:
        click.echo(
            f"stract-reports: refusing to serve {host} without access keys: set "
            "STRACT_ACCESS_KEYS (or --access-keys), or pass --public to serve it open",
            err=True,
        )
        sys.exit(2)
    try:
        run_server(
            lambda: create_app(settings=settings),
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            grace=grace,
        )
    except ListenError as exc:
        click.echo(f"stract-reports: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option("--port", default=5000, show_default=True, help="Report server port.")
@click.option("--latency-ms", default=50.0, show_default=True, help="Simulated upstream latency.")
@setting_options(DEMO)
def demo(port: int, latency_ms: float, **flags: Any) -> None:
    """Run the Stract API simulator and the report server together, offline."""
    from . import create_app
    from .serving import run_server
    from .simulator import DEFAULT_TOKEN, Simulator

    simulator = Simulator(latency=latency_ms / 1000).start()
    settings = _settings(api_url=simulator.url, api_token=DEFAULT_TOKEN, **flags)
    base = f"http://127.0.0.1:{port}"
    click.echo(f"Simulated Stract API: {simulator.url}")
    click.echo(f"Reports:  {base}/   (index)")
    for name in report_names(p.value for p in simulator.dataset.platforms):
        click.echo(f"          {base}/{name}   {base}/{name}.html   {base}/{name}.json")
    click.echo("Press Ctrl+C to stop.")
    run_server(
        lambda: create_app(settings=settings),
        host="127.0.0.1",
        port=port,
        workers=1,
        threads=16,
        log_level="warning",
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True)
@click.option("--latency-ms", default=0.0, show_default=True, help="Delay of every API call.")
@click.option("--jitter-ms", default=0.0, show_default=True, help="Random +/- on the delay.")
@click.option("--faults", default="", help="Fault plan, e.g. '429:first=1,500:p=0.05'.")
@click.option(
    "--synthetic",
    metavar="ACCOUNTS,ADS",
    help="Generated data: accounts per platform, ads per account.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of synthetic data and faults.")
@click.option("--insights-page-size", type=int, help="Paginate insights (synthetic data).")
@click.option("--token", default=None, help="Bearer token to accept (default: the public one).")
def simulator(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    faults: str,
    synthetic: str | None,
    seed: int,
    insights_page_size: int | None,
    token: str | None,
) -> None:
    """Serve a simulated Stract API (real captured data by default)."""
    from .simulator import DEFAULT_TOKEN, Simulator, parse_faults, real_dataset, synthetic_dataset

    try:
        plan = parse_faults(faults)
        if synthetic:
            accounts, ads = (int(n) for n in synthetic.split(","))
            dataset = synthetic_dataset(
                accounts, ads, seed=seed, insights_page_size=insights_page_size
            )
        else:
            dataset = real_dataset()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sim = Simulator(
        dataset,
        token=token or DEFAULT_TOKEN,
        latency=latency_ms / 1000,
        jitter=jitter_ms / 1000,
        faults=plan,
        seed=seed,
        host=host,
        port=port,
    )
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
    "--format", "fmt", type=click.Choice(["csv", "json", "html"]), default="csv", show_default=True
)
@click.option("--excel-br", is_flag=True, help="CSV for pt-BR Excel: ';', decimal comma, BOM.")
@click.option(
    "--ratios",
    type=click.Choice(RATIO_MODES),
    default="recompute",
    show_default=True,
    help="Summaries: recompute ratios, or sum every numeric column.",
)
@setting_options(EXPORT)
def export(
    report: str, output: Path | None, fmt: str, excel_br: bool, ratios: RatioMode, **flags: Any
) -> None:
    """Write one report (geral, geral/resumo, meta_ads, meta_ads/resumo, ...)."""
    from .exporting import export_report

    settings = _settings(**flags)
    try:
        data = export_report(
            settings,
            report,
            fmt=fmt,
            excel_br=excel_br,
            ratios=ratios,
            show_progress=sys.stderr.isatty(),
        )
    except Exception as exc:  # one line, never a traceback: see exporting.describe
        from .exporting import describe

        click.echo(f"stract-reports: {describe(exc)}", err=True)
        sys.exit(1)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
