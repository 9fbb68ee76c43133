"""Report computation: pure functions from fetched upstream data to tables."""

from .build import (
    Ads,
    Group,
    ads_table,
    general_ads,
    general_summary,
    platform_ads,
    platform_summary,
    summarize,
)
from .table import Table

__all__ = [
    "Ads",
    "Group",
    "Table",
    "ads_table",
    "general_ads",
    "general_summary",
    "platform_ads",
    "platform_summary",
    "summarize",
]
