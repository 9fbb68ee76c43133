"""The ``stract-reports`` command: serve, demo, export, simulator."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from .config import Settings, SettingsError
from .reports.names import RATIO_MODES, RatioMode, report_names

_UPSTREAM_OPTIONS = [
    click.option("--api-url", help="Upstream API root including /api [env STRACT_API_URL]."),
    click.option("--api-token", help="Upstream bearer token; prefer env STRACT_API_TOKEN."),
    click.option("--timeout", type=float, help="Seconds per upstream call [STRACT_API_TIMEOUT]."),
    click.option("--deadline", type=float, help="Seconds per report [STRACT_REPORT_DEADLINE]."),
    click.option("--concurrency", type=int, help="Upstream calls in flight [STRACT_CONCURRENCY]."),
    click.option("--retries", type=int, help="Retries per failed call [STRACT_RETRIES]."),
]


def upstream_options(command: Any) -> Any:
    """Add the flags that configure the upstream client."""
    for option in reversed(_UPSTREAM_OPTIONS):
        command = option(command)
    return command


def _settings(**flags: Any) -> Settings:
    try:
        return Settings.from_env(**flags)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
def main() -> None:
    """Stract ads reports as CSV, HTML and JSON, read from the Stract API at request time."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=16, show_default=True, help="Threads per worker.")
@click.option("--cache-ttl", type=float, help="Reuse upstream reads this long [STRACT_CACHE_TTL].")
@upstream_options
def serve(host: str, port: int, workers: int, threads: int, **flags: Any) -> None:
    """Serve the reports with gunicorn."""
    from . import create_app
    from .serving import run_gunicorn

    settings = _settings(**flags)
    run_gunicorn(
        lambda: create_app(settings=settings),
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        deadline=settings.deadline,
    )


@main.command()
@click.option("--port", default=5000, show_default=True, help="Report server port.")
@click.option("--latency-ms", default=50.0, show_default=True, help="Simulated upstream latency.")
def demo(port: int, latency_ms: float) -> None:
    """Run the Stract API simulator and the report server together, offline."""
    from . import create_app
    from .serving import run_gunicorn
    from .simulator import DEFAULT_TOKEN, Simulator

    simulator = Simulator(latency=latency_ms / 1000).start()
    settings = _settings(api_url=simulator.url, api_token=DEFAULT_TOKEN)
    base = f"http://127.0.0.1:{port}"
    click.echo(f"Simulated Stract API: {simulator.url}")
    click.echo(f"Reports:  {base}/   (index)")
    for name in report_names(p.value for p in simulator.dataset.platforms):
        click.echo(f"          {base}/{name}   {base}/{name}.html   {base}/{name}.json")
    click.echo("Press Ctrl+C to stop.")
    run_gunicorn(
        lambda: create_app(settings=settings),
        host="127.0.0.1",
        port=port,
        workers=1,
        threads=16,
        deadline=settings.deadline,
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
@upstream_options
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
