"""A column's cells as output text, a chunk of rows at a time, without a Python object per
cell where it can: numbers as their column prints them (``NumberColumn.texts``: a split of the
text kept from the upstream, or a conversion in C), text converted (quoted for CSV, encoded
for JSON) once per distinct value of the column, then picked by code.
"""

from __future__ import annotations

from collections.abc import Callable

from ..reports.columnar import Column, NumberColumn
from ..reports.words import Rows, TextColumn, gather


class ColumnTexts:
    """One column's cells as output text, each distinct text converted once (``convert``)."""

    def __init__(self, column: Column, convert: Callable[[str], str], empty: str, comma: bool):
        self.column = column
        self.convert = convert
        self.empty = empty
        self.separator = "," if comma else "."
        self.done: dict[int, str] = {0: empty}

    def __call__(self, rows: Rows) -> list[str]:
        column = self.column
        if isinstance(column, NumberColumn):
            return column.texts(rows, self.separator, self.empty)  # type: ignore[return-value]
        assert isinstance(column, TextColumn)
        codes = gather(column.codes, rows)
        done, values, convert = self.done, column.values, self.convert
        for code in dict.fromkeys(codes):
            if code not in done:
                done[code] = convert(values[code])  # type: ignore[arg-type]
        return list(map(done.__getitem__, codes))


__all__ = ["ColumnTexts"]
