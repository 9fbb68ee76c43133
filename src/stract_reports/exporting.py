"""The CLI's ``export``: one report to bytes, with a progress line on a terminal.

Everything that can be checked without the upstream (the report name, its format, the options
of its query, the output file) is checked first: a mistake costs no fetch. The report's query
takes the server's options, history ones included (``geral/resumo.csv?since=7d&_by=Country``).
A live read is recorded in the store (trigger ``export``) before the command exits.
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
from .history import Past, SourceCache, history_for
from .pipeline import Source, build_source, slice_for
from .redaction import printable, redact
from .render.notes import HistoryNote
from .renderers import plan_rendering, render
from .report_options import ReportOptions, read_options
from .reports.options import SECRET_OPTIONS, RatioMode
from .reports.slicing import Page
from .reports.spec import ReportSpec
from .reports.table import Table
from .store_link import StoreLink
from .upstream import StractClient
from .upstream.calls import Progress
from .urls import parse_report

# Options of a server's answer that a file has no use for.
_NOT_FOR_FILES = frozenset({"download", *SECRET_OPTIONS})


class ExportError(Exception):
    """An export cannot be done; the message is the one line to show."""


@dataclass(frozen=True)
class Export:
    """One checked export: which report, in which format, with which options."""

    spec: ReportSpec
    fmt: str
    options: ReportOptions

    @property
    def excel(self) -> str:
        """The CSV's Excel preset ("": none)."""
        return self.options.excel

    @property
    def ratios(self) -> RatioMode:
        """How summaries treat ratios."""
        return self.options.ratios


def plan_export(
    report: str,
    *,
    fmt: str | None = None,
    excel: str | None = None,
    ratios: RatioMode | None = None,
) -> Export:
    """Check a report name and its query as a URL has them ("geral/resumo.json?_by=Country",
    "geral?_col=Platform,Spend", "geral.csv?as_of=7d") and the flags, before any fetch: the
    server's checks and words.

    A suffix in the name sets the format, as in a URL; ``fmt`` (``--format``) must agree. The
    flags ``--excel`` and ``--ratios`` are the query's ``excel=`` and ``ratios=``: given both
    ways, they must agree. ``download=`` and ``key=`` are the server's, refused here.
    """
    name, _, query = report.partition("?")
    spec, named_fmt = parse_report(name)
    suffixed = name.strip("/") != spec.name
    if fmt is not None and suffixed and fmt != named_fmt:
        raise InvalidRequest(f"{name!r} names .{named_fmt} but --format is {fmt}")
    chosen = named_fmt if suffixed or fmt is None else fmt
    # As werkzeug reads a request's query: "+" is a space, a bare name has an empty value.
    pairs = parse_qsl(query, keep_blank_values=True)
    for option in sorted({option for option, _ in pairs} & _NOT_FOR_FILES):
        raise InvalidRequest(f"{option} is for the server's answers, not for an export")
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
    return Export(spec, chosen, read_options(chosen, spec, pairs))


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
    """Fetch (or read back) and render one report exactly as the server's
    ``/{report}.{fmt}?{query}`` would, the live read recorded in the store."""
    plan = report if isinstance(report, Export) else plan_export(report)
    client = StractClient(settings)
    store = StoreLink(settings).open()
    try:
        table, page, note = _table(client, store, plan, ProgressBar() if show_progress else None)
    finally:
        client.close()
        store.close()  # what its recorder holds is written first
        if show_progress:
            sys.stderr.write("\n")
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
        note=note,
    )
    return render(table, plan.fmt, rendering)


def _table(
    client: StractClient, store: StoreLink, plan: Export, progress: Progress | None
) -> tuple[Table, Page, HistoryNote | None]:
    """The table and page the plan asks for, as the server's answer in its format has them,
    and what a report from the store says of itself."""
    options = plan.options

    def live(identify: bool = False) -> Source:
        return build_source(
            client,
            plan.spec,
            progress=progress,
            on_read=lambda read, assembled: store.record(read, assembled, "export"),
            identify=identify,
        )

    if not options.history.asked:
        table, page = slice_for(live(), plan.fmt, options)
        return table, page, None
    past = Past(store.require(), SourceCache(), lambda key, build: build(), lambda: live(True))
    return history_for(past, plan.spec, plan.fmt, options)


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
