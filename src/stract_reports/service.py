"""From a report name to a table: the one path shared by the web views and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from .reports import Table, general_ads, general_summary, platform_ads, platform_summary
from .reports.names import GENERAL, SUMMARY, RatioMode
from .upstream import StractClient, fetch_report_data
from .upstream.fetch import Progress


@dataclass(frozen=True)
class ReportSpec:
    """Which report: a platform's (by upstream value) or the general one, ads or summary."""

    platform: str | None
    summary: bool


def parse_report_name(name: str) -> ReportSpec | None:
    """``geral``, ``geral/resumo``, ``{platform}`` or ``{platform}/resumo``; else None.

    The platform is not checked here: only the upstream's own list can say whether it exists.
    """
    parts = name.strip("/").split("/")
    if not parts[0] or len(parts) > 2 or (len(parts) == 2 and parts[1] != SUMMARY):
        return None
    platform = None if parts[0] == GENERAL else parts[0]
    return ReportSpec(platform, summary=len(parts) == 2)


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
