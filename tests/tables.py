"""The real dataset's fetched data, read once over loopback from the simulator, for the tests of
the pure layers (slicing, renderers) that start from a ``Table``; and any fetched data as a whole
report, by the path the server takes."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from stract_reports.pipeline import Source, slice_source
from stract_reports.records import PlatformData
from stract_reports.reports.ads import Ads
from stract_reports.reports.options import RatioMode
from stract_reports.reports.slicing import Summary, report_source
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from stract_reports.simulator import Simulator
from support import read_upstream


@cache
def real_data() -> tuple[PlatformData, ...]:
    """Every platform of the real captured dataset, as a report fetches it."""
    with Simulator() as sim:
        return tuple(read_upstream(sim.url)[1])


def general() -> Ads:
    """The ads of ``/geral``."""
    return report_source(real_data(), ReportSpec(None))[0]


def general_summary() -> Summary:
    """``/geral/resumo`` as the slicing layer is asked for it."""
    summary = report_source(real_data(), ReportSpec(None, summary=True))[1]
    assert summary is not None
    return summary


def platform(value: str) -> tuple[Ads, Summary]:
    """The ads of ``/{value}`` and its per-account summary."""
    data = [d for d in real_data() if d.platform.value == value]
    ads, summary = report_source(data, ReportSpec(value, summary=True))
    assert summary is not None
    return ads, summary


def whole(data: Sequence[PlatformData], spec: ReportSpec, ratios: RatioMode = "recompute") -> Table:
    """The report ``spec`` of ``data`` without options, laid out and cut as the server does."""
    return slice_source(Source(*report_source(data, spec)), ratios=ratios)[0]
