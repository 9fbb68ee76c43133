"""The CLI's ``export``: one report to bytes, with a progress line on a terminal."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from .config import Settings
from .errors import ReportError
from .redaction import redact
from .render import render
from .reports.names import RatioMode
from .service import build_table, parse_report_name
from .upstream import StractClient


class UnknownReport(ValueError):
    """The report name is not one of the report paths."""


def export_report(
    settings: Settings,
    report: str,
    *,
    fmt: str = "csv",
    excel_br: bool = False,
    ratios: RatioMode = "recompute",
    show_progress: bool = False,
) -> bytes:
    """Fetch and render one report exactly as the server's ``/{report}.{fmt}`` would."""
    spec = parse_report_name(report)
    if spec is None:
        raise UnknownReport(f"no report {report!r}; try geral, geral/resumo, PLATFORM[/resumo]")
    client = StractClient(settings)
    try:
        table = build_table(
            client,
            spec,
            ratios=ratios,
            progress=_progress_line if show_progress else None,
        )
    finally:
        client.close()
        if show_progress:
            sys.stderr.write("\n")
    return render(table, fmt, generated_at=datetime.now(UTC), excel_br=excel_br).encode("utf-8")


def _progress_line(done: int, known: int) -> None:
    width = 30
    filled = width * done // max(known, 1)
    sys.stderr.write(f"\rfetching [{'#' * filled}{'.' * (width - filled)}] {done}/{known} calls")
    sys.stderr.flush()


def describe(exc: BaseException) -> str:
    """A one-line, token-free description of why an export failed."""
    if isinstance(exc, ReportError):
        return f"{exc.title}: {exc.detail}"
    return redact(f"{type(exc).__name__}: {exc}")
