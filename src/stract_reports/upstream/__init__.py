"""The Stract API as this program sees it.

transport  one bounded HTTP exchange: pooled connections, no redirects, a whole-response
           time limit kept by a watchdog, a byte cap counted after inflating
decode     strict JSON: duplicate keys, lone surrogates, huge literals, deep nesting refused
flights    single-flight and the short cache; a per-caller ``Handle`` with ``cancel()``
retry      ``RetryPolicy``: attempts, back-off, Retry-After, what is retryable, as one value
client     ``StractClient``: the read chain (written at its top), ``_map_response``, a context
           manager
shape      the last good report's calls, to speculate with (memory; and Redis when shared)
fleet      what several processes and hosts share through Redis: reads, budget, shape
calls      one report's calls within ``FetchLimits``: a window at a time, on a completion
           queue, pages in parallel, speculation adopted; cancelled on failure
fetch      what a report needs (platforms, fields, accounts, insights) and what each body means
"""

from .calls import FetchLimits
from .client import StractClient
from .fetch import fetch_lists, fetch_platforms, fetch_report_data
from .flights import Handle

# The records a fetch returns are ``records``' (one import path): Platform, PlatformData, ...
__all__ = [
    "FetchLimits",
    "Handle",
    "StractClient",
    "fetch_lists",
    "fetch_platforms",
    "fetch_report_data",
]
