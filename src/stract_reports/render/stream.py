"""A column-wise table as CSV, TSV, JSON and NDJSON text, a chunk of rows at a time.

The bytes are those of ``render.csv`` and ``render.json`` (RFC 4180 by ``csv``'s own quoting,
formula neutralisation, exact numbers, strict JSON), made without a Python object per cell:

- numbers come as text from their column (``NumberColumn.texts``: a split, or a conversion in
  C), and never need quoting;
- a text cell is quoted, neutralised or JSON-encoded once per distinct value and column (the
  column's code says which), by ``csv.writer`` itself on that one value;
- a row is joined by one C call (a ``%`` template or ``str.join``).

Nothing holds the whole text: each chunk is yielded as soon as it is made.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import chain, repeat
from json.encoder import encode_basestring
from typing import Any

from ..reports.columnar import Column, NumberColumn, Rows, TextColumn, gather
from ..reports.frame import Frame
from .csv import neutralise
from .json import dumps, iso_utc

Dialect = tuple[str, bool, bool]  # delimiter, decimal comma, BOM (as render.csv's presets)
CSV: Dialect = (",", False, False)
TSV: Dialect = ("\t", False, False)
EXCEL: Dialect = (",", False, True)
EXCEL_BR: Dialect = (";", True, True)


class _Texts:
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


def csv_chunks(frame: Frame, dialect: Dialect = CSV) -> Iterator[str]:
    """The frame as ``render.csv`` writes it (header row; ``dialect``: one of the presets)."""
    delimiter, comma, bom = dialect
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")

    def quoted(text: str) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([neutralise(text), ""])  # two fields: a lone empty one is quoted
        return out.getvalue()[: -(2 + len(delimiter))]

    out.write("\ufeff" if bom else "")
    writer.writerow([neutralise(label) for label in frame.columns])
    head = out.getvalue()
    # csv writes a row holding one empty field as "" (an empty line would be no row at all).
    empty = '""' if len(frame.columns) == 1 else ""
    columns = [_Texts(column, quoted, empty, comma) for column in frame.data]
    for rows in frame.chunks():
        cells = [texts(rows) for texts in columns]
        lines = map(delimiter.join, zip(*cells, strict=True)) if cells else [""] * len(rows)
        yield head + "\r\n".join(lines) + "\r\n"
        head = ""
    if head:
        yield head  # no rows: the header alone


def _json_rows(frame: Frame, between: str) -> Iterator[str]:
    """Each chunk's rows as JSON objects keyed by label, in column order, ``between`` after
    each; a chunk of no rows is skipped."""
    keys = [
        ("{" if c == 0 else ",") + encode_basestring(label) + ":"
        for c, label in enumerate(frame.columns)
    ]
    columns = [_Texts(column, encode_basestring, "null", False) for column in frame.data]
    for rows in frame.chunks():
        if not columns:
            yield ("{}" + between) * len(rows)
            continue
        # Key, cell, key, cell, ..., "}" and ``between``: the chunk in one join.
        parts: list[Any] = []
        for key, texts in zip(keys, columns, strict=True):
            parts += (repeat(key), texts(rows))
        parts.append(repeat("}" + between))
        yield "".join(chain.from_iterable(zip(*parts, strict=False)))  # repeats never end


def json_chunks(
    frame: Frame,
    head: dict[str, Any],
    generated_at: datetime,
    *,
    next_url: str | None = None,
) -> Iterator[str]:
    """The JSON document of ``render.json`` (``head``: its fields before ``rows``, without the
    generation time and row count, which are added here), a chunk of rows at a time."""
    document = {
        **head,
        "generated_at": iso_utc(generated_at),
        "row_count": len(frame),
        "warnings": list(frame.warnings),
        "columns": frame.columns,
    }
    yield dumps(document)[:-1] + ',"rows":['
    yield from _separated(_json_rows(frame, ","))
    yield "]}" if next_url is None else f'],"next":{dumps(next_url)}}}'


def ndjson_chunks(frame: Frame) -> Iterator[str]:
    """One JSON object per row and line."""
    yield from _json_rows(frame, "\n")


def array_chunks(frame: Frame) -> Iterator[str]:
    """The rows alone, a bare JSON list of objects (``?_shape=array``)."""
    yield "["
    yield from _separated(_json_rows(frame, ","))
    yield "]"


def _separated(chunks: Iterator[str]) -> Iterator[str]:
    """Chunks of objects each followed by a comma, without the very last comma."""
    held = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held[:-1]


__all__ = [
    "CSV",
    "EXCEL",
    "EXCEL_BR",
    "TSV",
    "array_chunks",
    "csv_chunks",
    "json_chunks",
    "ndjson_chunks",
]
