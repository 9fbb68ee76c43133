"""The reports' names, as their paths spell them (the contract keeps the Portuguese words)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

GENERAL = "geral"
SUMMARY = "resumo"

# How summaries treat ratio columns: recompute them from summed components, or sum them.
RatioMode = Literal["recompute", "sum"]
RATIO_MODES: tuple[str, ...] = get_args(RatioMode)


def report_name(platform: str | None, *, summary: bool) -> str:
    """A report's path without the leading slash: ``geral``, ``meta_ads/resumo``, ..."""
    base = platform or GENERAL
    return f"{base}/{SUMMARY}" if summary else base


def report_names(platforms: Iterable[str]) -> list[str]:
    """The general reports, then each platform's ads and summary, in the platforms' order."""
    return [
        report_name(platform, summary=summary)
        for platform in (None, *platforms)
        for summary in (False, True)
    ]
