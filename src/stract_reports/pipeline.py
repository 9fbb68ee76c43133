"""From a report spec to its table: the one path shared by the web views and the CLI.

A report is built in two steps. ``build_source`` reads the upstream now and lays out the ads
(the expensive part, which concurrent requests share); ``slice_source`` cuts the table a request
asked for out of it: a summary, filters, sort, columns, one page. A report holding a platform
whose value cannot be a path of ours (``urls.unreachable_platform``) is refused: 502.

The ads are assembled column-wise as the insight pages arrive (``reports.ingest``), each page
let go at once, with the garbage collector paused for the whole read: nothing the read holds
is in a reference cycle, so memory is given back as it goes, and the collector does not walk
the young objects of every page.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InvalidRequest, NoSuchPage, UpstreamBadPayload
from .formats import FORMATS
from .report_options import ReportOptions
from .reports.ads import Ads
from .reports.collector import gc_paused
from .reports.ingest import AdAssembly
from .reports.options import RatioMode
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

Source = tuple[Ads, Summary | None]
WHOLE = parse_slice(())  # no options: the whole report


def build_source(
    client: StractClient, spec: ReportSpec, *, progress: Progress | None = None
) -> Source:
    """Fetch what ``spec`` needs from the upstream now, and lay out its ads (and groups)."""
    settings = client.settings
    limits = FetchLimits.from_settings(settings)
    assembly = AdAssembly()
    with gc_paused():
        fetch_report_data(
            client,
            spec.platform,
            limits,
            speculate=settings.speculate,
            progress=progress,
            sink=assembly,
            vet=lambda platforms: check_paths(client, (p.value for p in platforms)),
        )
        assembled = assembly.finish()
    return report_source(assembled, spec)


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
    ads, summary = source
    try:
        return slice_report(
            ads,
            sl,
            summary=summary,
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
