"""From a report spec to a table: the one path shared by the web views and the CLI."""

from __future__ import annotations

from .catalog import ReportSpec
from .reports import Table, general_ads, general_summary, platform_ads, platform_summary
from .reports.names import RatioMode
from .upstream import StractClient, fetch_report_data
from .upstream.fetch import Progress


def build_table(
    client: StractClient,
    spec: ReportSpec,
    *,
    ratios: RatioMode = "recompute",
    progress: Progress | None = None,
) -> Table:
    """Fetch what ``spec`` needs from the upstream now, and compute its table."""
    data = fetch_report_data(client, spec.platform, progress=progress)
    if spec.platform is None:
        return general_summary(data, ratios) if spec.summary else general_ads(data)
    (platform,) = data
    return platform_summary(platform, ratios) if spec.summary else platform_ads(platform)
