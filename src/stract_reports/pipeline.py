"""From a report spec to its table: the one path shared by the web views and the CLI.

A report is built in two steps. ``build_source`` reads the upstream now and lays out the ads
(the expensive part, which concurrent requests share); ``slice_source`` cuts the table a request
asked for out of it: a summary, filters, sort, columns, one page.

The ads are assembled column-wise as the insight pages arrive (``reports.ingest``), each page
let go at once, with the garbage collector paused for the whole read: nothing the read holds
is in a reference cycle, so memory is given back as it goes, and the collector does not walk
the young objects of every page.

A scoped key's ``Scope`` is applied before the ads are laid out, so every slice of a source is
within it: a live read asks the upstream for nothing outside it and its pages are assembled
through ``reports.scoping.ScopedSink``; records (a read from the store) become a source through
``source_of``, which narrows them by the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InvalidRequest, UnknownPlatform
from .records import PlatformData
from .reports.ads import Ads
from .reports.collector import gc_paused
from .reports.ingest import AdAssembly
from .reports.options import RatioMode
from .reports.scoping import ScopedSink, narrow
from .reports.slicing import (
    BadOption,
    Page,
    Slice,
    Summary,
    parse_slice,
    report_source,
    slice_report,
)
from .reports.spec import ReportSpec
from .reports.table import Table
from .scope import Scope
from .upstream import FetchLimits, StractClient, fetch_report_data
from .upstream.fetch import Progress

Source = tuple[Ads, Summary | None]
WHOLE = parse_slice(())  # no options: the whole report


def build_source(
    client: StractClient,
    spec: ReportSpec,
    *,
    scope: Scope | None = None,
    progress: Progress | None = None,
) -> Source:
    """Fetch what ``spec`` needs from the upstream now (within ``scope``: no other platform or
    account is read), and lay out its ads (and groups)."""
    settings = client.settings
    limits = FetchLimits.from_settings(settings)
    assembly = AdAssembly()
    # The scope's door for a live read: the fetch asks for nothing outside it, the sink keeps
    # only its fields (and checks its platforms and accounts again).
    sink = assembly if scope is None or scope.full else ScopedSink(assembly, scope)
    with gc_paused():
        fetch_report_data(
            client,
            spec.platform,
            limits,
            speculate=settings.speculate,
            progress=progress,
            scope=scope,
            sink=sink,
        )
        assembled = assembly.finish()
    return report_source(assembled, spec)


def source_of(data: Sequence[PlatformData], spec: ReportSpec, scope: Scope | None) -> Source:
    """What records holding their rows (a read from the store) show of ``spec`` within
    ``scope``: narrowed (``reports.scoping``), then laid out as a live read's. A platform's
    report that the scope leaves empty is an unknown platform."""
    narrowed = narrow(data, scope)
    if spec.platform is not None and [p.platform.value for p in narrowed] != [spec.platform]:
        raise UnknownPlatform(spec.platform, [p.platform.value for p in narrowed])
    return report_source(narrowed, spec)


def slice_source(
    source: Source,
    sl: Slice = WHOLE,
    *,
    ratios: RatioMode = "recompute",
    page_size: int | None = None,
    totals: bool = False,
) -> tuple[Table, Page]:
    """The table ``sl`` asks for out of a built source; a bad option is a 400."""
    ads, summary = source
    try:
        return slice_report(
            ads, sl, summary=summary, ratios=ratios, page_size=page_size, totals=totals
        )
    except BadOption as exc:
        raise InvalidRequest(str(exc)) from None


def build_table(
    client: StractClient,
    spec: ReportSpec,
    *,
    ratios: RatioMode = "recompute",
    progress: Progress | None = None,
) -> Table:
    """The whole report ``spec``, read from the upstream now."""
    return slice_source(build_source(client, spec, progress=progress), ratios=ratios)[0]
