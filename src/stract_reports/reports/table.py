"""The neutral table every report is computed as, before it is rendered as CSV, HTML or JSON.

A table is held column-wise (``columnar``, ``words``): a report's ad table is built once and
shared by the requests that overlap it, and each request's table is a view of the same columns:
its ``selection`` (a ``range``, or the row indices a filter kept, in the order a sort gave) and
its own choice of columns. Nothing is copied per request but the selection (4 bytes a row at
most); summaries are small tables of their own. Renderers read a chunk of rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .columnar import Column, NumberColumn
from .numbers import Number
from .spec import ReportSpec
from .words import Rows, TextColumn

Cell = Number | str | None
CHUNK_ROWS = 2000  # rows rendered at a time: a few hundred KB of text


@dataclass(frozen=True)
class Table:
    """Labels in order, whether each column is numeric, the columns, and which of their rows
    the table shows (``selection``, in its order; None = an empty cell).

    ``warnings`` say where the report reads differently from what the upstream likely meant
    (a mostly numeric column shown as text because of one value); every format carries them.
    ``digest`` is the content digest of the ad table this one was cut from (``ingest``): with
    the options that cut it, it tells two answers apart before either is rendered.
    """

    spec: ReportSpec  # which report it is
    title: str
    columns: list[str]
    numeric: list[bool]
    data: list[Column]
    selection: Rows
    warnings: list[str] = field(default_factory=list)
    digest: bytes = b""

    @classmethod
    def of_rows(
        cls,
        spec: ReportSpec,
        title: str,
        columns: list[str],
        numeric: list[bool],
        rows: Sequence[Sequence[Cell]] = (),
        warnings: list[str] | None = None,
        digest: bytes = b"",
    ) -> Table:
        """The table of a few rows of cells (a summary, a test): numbers in numeric columns,
        text in the others."""
        data: list[Column] = []
        for index, is_number in enumerate(numeric):
            cells: Any = [row[index] for row in rows]
            data.append(NumberColumn.of(cells) if is_number else TextColumn.of(cells))
        selection = range(len(rows))
        return cls(
            spec, title, list(columns), list(numeric), data, selection, warnings or [], digest
        )

    def __len__(self) -> int:
        return len(self.selection)

    @property
    def rows(self) -> list[list[Cell]]:
        """Every row shown, as cells: for small tables (a page, a summary, a chart, a test)."""
        return self.cells(self.selection)

    def cells(self, rows: Rows) -> list[list[Cell]]:
        """The cells of ``rows`` (indices into the columns), row by row."""
        columns = [column.cells(rows) for column in self.data]
        if not columns:
            return [[] for _ in rows]
        return [list(row) for row in zip(*columns, strict=True)]

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Rows]:
        """The selection a few thousand rows at a time, in order."""
        for start in range(0, len(self.selection), size):
            yield self.selection[start : start + size]

    def select(self, selection: Rows) -> Table:
        """The same columns showing ``selection`` (indices into the columns) instead."""
        return replace(self, selection=selection)

    def project(self, columns: Sequence[int]) -> Table:
        """Only ``columns`` (positions in this table), in that order."""
        return replace(
            self,
            columns=[self.columns[c] for c in columns],
            numeric=[self.numeric[c] for c in columns],
            data=[self.data[c] for c in columns],
        )


__all__ = ["CHUNK_ROWS", "Cell", "Column", "Table"]
