"""A table held column-wise: which rows of shared columns it shows, in which order.

A report's ad table is built once (``ingest``) and shared by the requests that overlap it; each
request's slice is a ``Frame`` over the same columns: its ``selection`` (a ``range``, or the
row indices a filter kept, in the order a sort gave), and its own choice of columns. Nothing is
copied per request but that selection (4 bytes a row at most); summaries are small tables of
their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .columnar import Column, NumberColumn, Rows, TextColumn
from .numbers import Number

Cell = Number | str | None
CHUNK_ROWS = 2000  # rows rendered at a time: a few hundred KB of text


@dataclass(frozen=True)
class Frame:
    """Labels in order, whether each column is numeric, the columns, and which of their rows
    this table shows (``selection``, in its order); ``warnings`` as the report carries them."""

    columns: list[str]
    numeric: list[bool]
    data: list[Column]
    selection: Rows
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of_rows(
        cls,
        columns: list[str],
        numeric: list[bool],
        rows: Sequence[Sequence[Cell]],
        warnings: list[str] | None = None,
    ) -> Frame:
        """The frame of a few rows of cells (summaries, tests): text columns hold text."""
        data: list[Column] = []
        for index, is_number in enumerate(numeric):
            cells: Any = [row[index] for row in rows]
            data.append(NumberColumn.of(cells) if is_number else TextColumn.of(cells))
        return cls(list(columns), list(numeric), data, range(len(rows)), list(warnings or []))

    def __len__(self) -> int:
        return len(self.selection)

    @property
    def rows(self) -> list[list[Cell]]:
        """Every row shown, as cells: for small tables (a page, a summary, a test)."""
        return self.cells(self.selection)

    def cells(self, rows: Rows) -> list[list[Cell]]:
        """The cells of ``rows`` (indices into the columns), row by row."""
        columns = [column.cells(rows) for column in self.data]
        return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in rows]

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Rows]:
        """The selection a few thousand rows at a time, in order."""
        for start in range(0, len(self.selection), size):
            yield self.selection[start : start + size]

    def select(self, selection: Rows) -> Frame:
        """The same columns showing ``selection`` (indices into the columns) instead."""
        return replace(self, selection=selection)

    def project(self, columns: Sequence[int]) -> Frame:
        """Only ``columns`` (positions in this frame), in that order."""
        return replace(
            self,
            columns=[self.columns[c] for c in columns],
            numeric=[self.numeric[c] for c in columns],
            data=[self.data[c] for c in columns],
        )


__all__ = ["CHUNK_ROWS", "Cell", "Frame"]
