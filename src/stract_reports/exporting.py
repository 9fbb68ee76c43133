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
from urllib.parse import parse_qsl

from .config import Settings
from .errors import InvalidRequest, ReportError
from .pipeline import build_source, slice_for
from .redaction import printable, redact
from .renderers import plan_rendering, render
from .report_options import ReportOptions, read_options
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
    options: ReportOptions


def plan_export(
    report: str,
    *,
    fmt: str | None = None,
    excel: str | None = None,
    ratios: RatioMode | None = None,
) -> Export:
    """Check a report name and its query as a URL has them ("geral/resumo.json?_by=Country",
    "geral?_col=Platform,Spend") and the flags, before any fetch: the server's checks and words.

    A suffix in the name sets the format, as in a URL; ``fmt`` (``--format``) must agree. The
    flags ``--excel`` and ``--ratios`` are the query's ``excel=`` and ``ratios=``: given both
    ways, they must agree.
    """
    name, _, query = report.partition("?")
    spec, named_fmt = parse_report(name)
    suffixed = name.strip("/") != spec.name
    if fmt is not None and suffixed and fmt != named_fmt:
        raise InvalidRequest(f"{name!r} names .{named_fmt} but --format is {fmt}")
    chosen = named_fmt if suffixed or fmt is None else fmt
    # As werkzeug reads a request's query: "+" is a space, a bare name has an empty value.
    pairs = parse_qsl(query, keep_blank_values=True)
    for option, flag in (("excel", excel), ("ratios", ratios)):
        if flag is None:
            continue
        given = [value for key, value in pairs if key == option]
        if any(value != flag for value in given):
            raise InvalidRequest(
                f"{option} is given twice: --{option} {flag} and {option}={given[0]} in the query"
            )
        if not given:
            pairs.append((option, flag))
    return Export(spec, chosen, read_options(pairs, chosen))


def check_output(path: Path) -> None:
    """Fail now, not after the fetch, if ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: no directory {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"cannot write {path}: permission denied")


def export_report(
    settings: Settings, report: str | Export, *, show_progress: bool = False
) -> bytes:
    """Fetch and render one report exactly as the server's ``/{report}.{fmt}?{query}`` would."""
    plan = report if isinstance(report, Export) else plan_export(report)
    client = StractClient(settings)
    try:
        source = build_source(client, plan.spec, progress=ProgressBar() if show_progress else None)
    finally:
        client.close()
        if show_progress:
            sys.stderr.write("\n")
    table, page = slice_for(source, plan.fmt, plan.options)
    options = plan.options
    rendering = plan_rendering(
        table,
        plan.fmt,
        datetime.now(UTC),
        query=options.query,
        page=page,
        ratios=options.ratios,
        excel=options.excel,
        shape=options.shape,
    )
    return render(table, plan.fmt, rendering)


def write_output(path: Path, data: bytes) -> None:
    """Write the export; a failure is an ``ExportError`` with one line to show."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


class ProgressBar:
    """The fetch's progress on stderr: calls done of calls known so far. The known total grows
    as pages are discovered, and done/known would then jump back: the bar keeps the furthest
    point it reached instead, so it only moves forward (the count beside it tells the rest),
    and it is full when every known call is done."""

    WIDTH = 30

    def __init__(self) -> None:
        self.filled = 0

    def __call__(self, done: int, known: int) -> None:
        """Draw the bar after a call finished: ``done`` calls of ``known`` so far."""
        self.filled = max(self.filled, self.WIDTH * min(done, known) // max(known, 1))
        bar = "#" * self.filled + "." * (self.WIDTH - self.filled)
        sys.stderr.write(f"\rfetching [{bar}] {done}/{known} calls")
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
