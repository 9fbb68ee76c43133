"""The neutral table every report is computed as, before it is rendered as CSV, HTML or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

from .numbers import Number
from .spec import ReportSpec

Cell = Number | str | None


@dataclass
class Table:
    """Columns in order, which of them are numeric, and rows of cells (None = empty).

    ``warnings`` say where the report reads differently from what the upstream likely meant
    (a mostly numeric column shown as text because of one value); every format carries them.
    """

    spec: ReportSpec  # which report it is
    title: str
    columns: list[str]
    numeric: list[bool]
    rows: list[list[Cell]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
