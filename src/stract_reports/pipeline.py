"""From a report spec to its table: the one path shared by the web views and the CLI.

A report is built in two steps. ``build_source`` reads the upstream now and lays out the ads
(the expensive part, which concurrent requests share); ``slice_source`` cuts the table a request
asked for out of it: a summary, filters, sort, columns, one page. A report holding a platform
whose value cannot be a path of ours (``urls.unreachable_platform``) is refused: 502. A read of
the past takes the same second step: ``source_of`` lays out data read back from the store as a
live read's is.

The ads are assembled column-wise as the insight pages arrive (``reports.ingest``), each page
let go at once, with the garbage collector paused for the whole read: nothing the read holds
is in a reference cycle, so memory is given back as it goes, and the collector does not walk
the young objects of every page.

A scoped key's ``Scope`` is applied before the ads are laid out, so every slice of a source is
within it: a live read asks the upstream for nothing outside it and its pages are assembled
through ``reports.scoping.ScopedSink``; records (a read from the store) become a source through
``source_of``, which narrows them by the same rule.

A read is bounded: at most ``STRACT_MAX_ROWS`` ad rows (a 502 naming the account past them),
and, given the server's memory budget (``memory``), a build is charged what its pages will hold
as each arrives (past the budget: 503), for as long as its source lives; a failed build gives
its memory back to the system at once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .errors import (
    InvalidRequest,
    NoSuchPage,
    UnknownPlatform,
    UpstreamBadPayload,
    let_frames_go,
)
from .formats import FORMATS
from .memory import TRIM_BYTES, MemoryBudget
from .records import PlatformData, Read
from .report_options import ReportOptions
from .reports.ads import Ads
from .reports.collector import gc_paused
from .reports.ingest import AdAssembly, AdColumns, Meter
from .reports.options import RatioMode
from .reports.periods import Identities
from .reports.scoping import ScopedSink, narrow
from .reports.slice_options import Slice, parse_slice
from .reports.slicing import (
    BadOption,
    Page,
    PastTheEnd,
    Summary,
    report_source,
    slice_report,
)
from .reports.spec import ReportSpec
from .reports.table import Table
from .scope import Scope
from .upstream import FetchLimits, StractClient, fetch_report_data
from .upstream.calls import Progress
from .urls import unreachable_platform

WHOLE = parse_slice(())  # no options: the whole report
# Bytes a slice that filters, searches, sorts or groups holds per row of its report while it
# is cut, estimated: the row numbers it keeps, as Python ints, a sort's keys, a filter's
# passes (measured with tracemalloc on the synthetic report: about 130).
SLICE_ROW_BYTES = 160
# What is done with a complete read once its ads are assembled (the store records it).
OnRead = Callable[[Read, AdColumns], None]


@dataclass(frozen=True)
class Source:
    """A report's ads laid out and, for a summary, which one; with ``ids`` (asked for by
    reports over time) who each row and group is."""

    ads: Ads
    summary: Summary | None
    ids: Identities | None = None


def build_source(
    client: StractClient,
    spec: ReportSpec,
    *,
    scope: Scope | None = None,
    progress: Progress | None = None,
    on_read: OnRead | None = None,
    identify: bool = False,
    budget: MemoryBudget | None = None,
) -> Source:
    """Fetch what ``spec`` needs from the upstream now (within ``scope``: no other platform or
    account is read), hand a complete read and its assembled ads to ``on_read`` (it must not
    block; a read narrowed by a scope is no snapshot of the upstream, and is not handed), and
    lay out its ads (and groups; ``identify``: and who they are); within ``budget`` when given,
    charged for as long as the source lives."""
    scope = None if scope is None or scope.full else scope
    charge = None if budget is None else budget.charge(f"the report /{spec.name}")
    try:
        read, assembled = read_assembled(
            client,
            spec.platform,
            scope=scope,
            progress=progress,
            meter=None if charge is None else charge.grow,
        )
        if on_read is not None and scope is None:
            on_read(read, assembled)
        values = [p.platform.value for p in read.data]
        source = source_of(assembled, spec, values, identify=identify)
    except BaseException as exc:
        if charge is not None:
            # The frames the error came through hold the read's pages: they go first, so that
            # the memory given back is theirs; and those in reference cycles (the calls in
            # flight and their callbacks) too, when there were many.
            let_frames_go(exc)
            if charge.nbytes >= TRIM_BYTES:
                gc.collect()
            charge.failed = True
            charge.close()
        raise
    if charge is not None:
        charge.tie(source)
    return source


def read_assembled(
    client: StractClient,
    platform: str | None,
    *,
    scope: Scope | None = None,
    progress: Progress | None = None,
    meter: Meter | None = None,
) -> tuple[Read, AdColumns]:
    """Read one platform (by value), or every one (None), from the upstream now, within
    ``scope``: the read's records and its ads assembled as the pages arrived, at most
    ``STRACT_MAX_ROWS`` of them, each page told to ``meter`` first (``reports.ingest``)."""
    settings = client.settings
    limits = FetchLimits.from_settings(settings)
    assembly = AdAssembly(max_rows=settings.max_rows, meter=meter)
    # The scope's door for a live read: the fetch asks for nothing outside it, the sink keeps
    # only its fields (and checks its platforms and accounts again).
    sink = assembly if scope is None or scope.full else ScopedSink(assembly, scope)
    with gc_paused():
        read = fetch_report_data(
            client,
            platform,
            limits,
            speculate=settings.speculate,
            progress=progress,
            vet=lambda platforms: check_paths(client, (p.value for p in platforms)),
            scope=scope,
            sink=sink,
        )
        assembled = assembly.finish()
    return read, assembled


def source_of(
    data: Sequence[PlatformData] | AdColumns,
    spec: ReportSpec,
    values: Sequence[str],
    *,
    identify: bool = False,
    scope: Scope | None = None,
) -> Source:
    """The source of ``spec`` from a read's assembled ads, or from records holding their rows
    (read back from the store); ``values``: its platforms' values, in report order. Records
    are narrowed to ``scope`` first (``reports.scoping``; assembled ads were narrowed as they
    came in), and a platform's report that the scope leaves empty is an unknown platform."""
    if scope is not None and not scope.full and not isinstance(data, AdColumns):
        data = narrow(data, scope)
        values = [p.platform.value for p in data]
        if spec.platform is not None and values != [spec.platform]:
            raise UnknownPlatform(spec.platform, values)
    ads, summary = report_source(data, spec)
    return Source(ads, summary, Identities.of(ads, values) if identify else None)


def check_paths(client: StractClient, values: Iterable[str]) -> None:
    """Refuse platform values that cannot be their reports' paths: a 502 naming the first."""
    why = unreachable_platform(values)
    if why is not None:
        raise UpstreamBadPayload("platform list", why, url=client.where("platforms"))


def slice_source(
    source: Source,
    sl: Slice = WHOLE,
    *,
    ratios: RatioMode = "recompute",
    page_size: int | None = None,
    totals: bool = False,
    suggest: bool = False,
) -> tuple[Table, Page]:
    """The table ``sl`` asks for out of a built source; a bad option is a 400, a page past
    the end a 404."""
    try:
        return slice_report(
            source.ads,
            sl,
            summary=source.summary,
            ratios=ratios,
            page_size=page_size,
            totals=totals,
            suggest=suggest,
        )
    except BadOption as exc:
        raise InvalidRequest(str(exc)) from None
    except PastTheEnd as exc:
        raise NoSuchPage(str(exc)) from None


def slice_bytes(source: Source, sl: Slice) -> int:
    """About the memory cutting ``sl`` out of ``source`` holds, in bytes (no copy of the rows
    for a slice that keeps them all, in order)."""
    if not (sl.filters or sl.search or sl.sort or sl.by or sl.flags):
        return 0
    return SLICE_ROW_BYTES * len(source.ads.table)


def slice_for(source: Source, fmt: str, options: ReportOptions) -> tuple[Table, Page]:
    """The table and page a request in ``fmt`` with ``options`` is answered with:
    the slice it asks for, in the format's page size, with the format's totals row and
    offered facets."""
    shown = FORMATS[fmt]
    return slice_source(
        source,
        options.slice,
        ratios=options.ratios,
        page_size=shown.page_size,
        totals=shown.totals,
        suggest=shown.offers_facets,
    )
