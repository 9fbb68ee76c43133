"""Which report: a platform's (by its upstream value) or the general one, its ads or their
summary; its name as the paths spell it (the contract keeps the Portuguese words).

The one identity of a report in the program: routes resolve to it, builds are keyed by it, and
the ``Table`` a report computes carries it. Its URLs are ``urls``' business, above the renderers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

GENERAL = "geral"
SUMMARY = "resumo"


@dataclass(frozen=True)
class ReportSpec:
    """Which report: a platform's (by upstream value) or the general one, ads or summary."""

    platform: str | None
    summary: bool = False

    @classmethod
    def from_name(cls, name: str) -> ReportSpec:
        """The inverse of ``name``: "geral/resumo" -> the general summary."""
        base, slash, last = name.rpartition("/")
        summary = bool(slash) and last == SUMMARY
        platform = base if summary else name
        return cls(None if platform == GENERAL else platform, summary)

    @property
    def name(self) -> str:
        """The report's path without the leading slash: ``geral``, ``meta_ads/resumo``, ..."""
        base = self.platform or GENERAL
        return f"{base}/{SUMMARY}" if self.summary else base

    @property
    def slug(self) -> str:
        """The name as a file-name part: "geral/resumo" -> "geral-resumo"."""
        return self.name.replace("/", "-")

    @property
    def ads(self) -> ReportSpec:
        """The ad report this one is (or summarises)."""
        return ReportSpec(self.platform)


def all_reports(platforms: Iterable[str]) -> list[ReportSpec]:
    """The general reports, then each platform's ads and summary, in the platforms' order."""
    return [
        ReportSpec(platform, summary)
        for platform in (None, *platforms)
        for summary in (False, True)
    ]
