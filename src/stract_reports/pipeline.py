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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .errors import InvalidRequest, NoSuchPage, UpstreamBadPayload
from .formats import FORMATS
from .records import PlatformData, Read
from .report_options import ReportOptions
from .reports.ads import Ads
from .reports.collector import gc_paused
from .reports.ingest import AdAssembly, AdColumns
from .reports.options import RatioMode
from .reports.periods import Identities
from .reports.slicing import (
    BadOption,
    Page,
    PastTheEnd,
    Slice,
    Summary,
    parse_slice,
    report_source,
    slice_report,
)
from .reports.spec import ReportSpec
from .reports.table import Table
from .upstream import FetchLimits, StractClient, fetch_report_data
from .upstream.fetch import Progress
from .urls import unreachable_platform

WHOLE = parse_slice(())  # no options: the whole report
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
    progress: Progress | None = None,
    on_read: OnRead | None = None,
    identify: bool = False,
) -> Source:
    """Fetch what ``spec`` needs from the upstream now, hand the complete read and its
    assembled ads to ``on_read`` (it must not block), and lay out its ads (and groups;
    ``identify``: and who they are)."""
    read, assembled = read_assembled(client, spec.platform, progress=progress)
    if on_read is not None:
        on_read(read, assembled)
    values = [p.platform.value for p in read.data]
    return source_of(assembled, spec, values, identify=identify)


def read_assembled(
    client: StractClient, platform: str | None, *, progress: Progress | None = None
) -> tuple[Read, AdColumns]:
    """Read one platform (by value), or every one (None), from the upstream now: the read's
    records and its ads assembled as the pages arrived."""
    settings = client.settings
    limits = FetchLimits.from_settings(settings)
    assembly = AdAssembly()
    with gc_paused():
        read = fetch_report_data(
            client,
            platform,
            limits,
            speculate=settings.speculate,
            progress=progress,
            sink=assembly,
            vet=lambda platforms: check_paths(client, (p.value for p in platforms)),
        )
        assembled = assembly.finish()
    return read, assembled


def source_of(
    data: Sequence[PlatformData] | AdColumns,
    spec: ReportSpec,
    values: Sequence[str],
    *,
    identify: bool = False,
) -> Source:
    """The source of ``spec`` from a read's assembled ads, or from records holding their rows
    (read back from the store); ``values``: its platforms' values, in report order."""
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


def build_table(
    client: StractClient,
    spec: ReportSpec,
    *,
    ratios: RatioMode = "recompute",
    progress: Progress | None = None,
    on_read: OnRead | None = None,
) -> Table:
    """The whole report ``spec``, read from the upstream now."""
    source = build_source(client, spec, progress=progress, on_read=on_read)
    return slice_source(source, ratios=ratios)[0]
