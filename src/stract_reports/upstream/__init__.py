"""The Stract API as this program sees it: client, fetch orchestration, records, errors."""

from .client import StractClient, redact
from .fetch import fetch_platforms, fetch_report_data
from .models import Account, AccountData, Field, Platform, PlatformData

__all__ = [
    "Account",
    "AccountData",
    "Field",
    "Platform",
    "PlatformData",
    "StractClient",
    "fetch_platforms",
    "fetch_report_data",
    "redact",
]
