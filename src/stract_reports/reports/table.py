"""The neutral table every report is computed as, before it is rendered as CSV, HTML or JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .numbers import Number

Cell = Number | str | None


@dataclass
class Table:
    """Columns in order, which of them are numeric, and rows of cells (None = empty).

    ``warnings`` say where the report reads differently from what the upstream likely meant
    (a mostly numeric column shown as text because of one value); every format carries them.
    """

    name: str  # the report's path without the leading slash, e.g. "geral/resumo"
    title: str
    columns: list[str]
    numeric: list[bool]
    rows: list[list[Cell]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text_rows(
        self, number: Callable[[Any], str], text: Callable[[Any], str]
    ) -> Iterator[list[str]]:
        """Each row as strings: empty cells "", numeric columns through ``number``, text
        columns through ``text`` (every cell of a column is one or the other: see build)."""
        formats = [number if numeric else text for numeric in self.numeric]
        for row in self.rows:
            yield ["" if cell is None else f(cell) for f, cell in zip(formats, row)]  # noqa: B905

    @property
    def slug(self) -> str:
        """The name as a file-name part: "geral/resumo" -> "geral-resumo"."""
        return self.name.replace("/", "-")
