"""What a report read from the store says of itself, as plain values handed to the renderers:
the HTML banner's sentence, the JSON document's ``snapshot``, and for a time series its line
chart (drawn from every period, before the table is cut into pages). Planned above the
renderers (``history``), like a page's links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HistoryNote:
    """Which snapshots a report used, said for each kind of answer."""

    banner: str  # one sentence, for the HTML page
    header: str  # the ``Stract-Snapshot`` header: the snapshots' times, comma-separated
    document: Mapping[str, Any] = field(default_factory=dict)  # JSON's ``snapshot``
    file_part: str = ""  # the download name's times ("as-of-20261201T100005Z")
    chart: str | None = None  # a time series: its SVG line chart, of every period
    history_url: str = ""  # the page that lists the snapshots
