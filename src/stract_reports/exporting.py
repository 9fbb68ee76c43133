"""The CLI's ``export``: one report to bytes, with a progress line on a terminal.

Everything that can be checked without the upstream (the report name, its format, the options,
the output file) is checked first: a mistake costs no fetch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import Settings
from .errors import InvalidRequest, ReportError
from .formats import check_excel
from .pipeline import build_table
from .redaction import printable, redact
from .renderers import plan_rendering, render
from .reports.options import RatioMode
from .reports.spec import ReportSpec
from .upstream import StractClient
from .urls import parse_report


class ExportError(Exception):
    """An export cannot be done; the message is the one line to show."""


@dataclass(frozen=True)
class Export:
    """One checked export: which report, in which format, with which options."""

    spec: ReportSpec
    fmt: str
    excel: str = ""
    ratios: RatioMode = "recompute"


def plan_export(
    report: str, *, fmt: str | None = None, excel: str = "", ratios: RatioMode = "recompute"
) -> Export:
    """Check a report name ("geral/resumo", "meta_ads.json") and options, before any fetch.

    A suffix in the name sets the format, as in a URL; ``fmt`` (``--format``) must agree.
    """
    spec, named_fmt = parse_report(report)
    suffixed = report.strip("/") != spec.name
    if fmt is not None and suffixed and fmt != named_fmt:
        raise InvalidRequest(f"{report!r} names .{named_fmt} but --format is {fmt}")
    chosen = named_fmt if suffixed or fmt is None else fmt
    return Export(spec, chosen, check_excel(excel, chosen), ratios)


def check_output(path: Path) -> None:
    """Fail now, not after the fetch, if ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: no directory {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"cannot write {path}: permission denied")


def export_report(
    settings: Settings,
    report: str | Export,
    *,
    fmt: str | None = None,
    excel_br: bool = False,
    ratios: RatioMode = "recompute",
    show_progress: bool = False,
) -> bytes:
    """Fetch and render one report exactly as the server's ``/{report}.{fmt}`` would."""
    plan = (
        report
        if isinstance(report, Export)
        else plan_export(report, fmt=fmt, excel="br" if excel_br else "", ratios=ratios)
    )
    client = StractClient(settings)
    try:
        table = build_table(
            client,
            plan.spec,
            ratios=plan.ratios,
            progress=_progress_line if show_progress else None,
        )
    finally:
        client.close()
        if show_progress:
            sys.stderr.write("\n")
    rendering = plan_rendering(
        table, plan.fmt, datetime.now(UTC), ratios=plan.ratios, excel=plan.excel
    )
    return render(table, plan.fmt, rendering)


def write_output(path: Path, data: bytes) -> None:
    """Write the export; a failure is an ``ExportError`` with one line to show."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _progress_line(done: int, known: int) -> None:
    width = 30
    filled = width * done // max(known, 1)
    sys.stderr.write(f"\rfetching [{'#' * filled}{'.' * (width - filled)}] {done}/{known} calls")
    sys.stderr.flush()


def describe(exc: BaseException) -> str:
    """A one-line, token-free description of why an export failed."""
    if isinstance(exc, ReportError):
        line = f"{exc.title}: {exc.detail}"
    elif isinstance(exc, ExportError):
        line = str(exc)
    else:  # not an expected failure (a bug): its type helps whoever reads the report of it
        line = f"{type(exc).__name__}: {exc}"
    return printable(redact(line))
