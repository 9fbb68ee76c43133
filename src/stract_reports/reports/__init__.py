"""Report computation: pure functions from fetched upstream data to tables."""

from .build import general_ads, general_summary, platform_ads, platform_summary
from .table import Table

__all__ = ["Table", "general_ads", "general_summary", "platform_ads", "platform_summary"]
