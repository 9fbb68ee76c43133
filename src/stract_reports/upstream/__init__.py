"""The Stract API as this program sees it: client, fetch orchestration, records, errors."""

from ..records import Account, AccountData, Field, Platform, PlatformData
from .client import StractClient
from .fetch import fetch_platforms, fetch_report_data

__all__ = [
    "Account",
    "AccountData",
    "Field",
    "Platform",
    "PlatformData",
    "StractClient",
    "fetch_platforms",
    "fetch_report_data",
]
