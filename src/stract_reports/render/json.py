"""A table as JSON: columns in order, rows as objects keyed by label, numbers as numbers.

The JSON is strict (RFC 8259): exact decimals are written with their own digits, as the CSV
prints them (``5.50``, never ``5.5`` through a float), and NaN or an infinity is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, repeat
from json.encoder import encode_basestring
from typing import Any

from ..reports.numbers import format_number
from ..reports.table import Table
from .cells import ColumnTexts


def table_document(table: Table, generated_at: datetime) -> dict[str, Any]:
    """The JSON document of a table; cells are raw (no formula neutralisation), empty = null."""
    columns = table.columns
    return {
        **_head(table, generated_at),
        "rows": [dict(zip(columns, row, strict=True)) for row in table.rows],
    }


def render_json(table: Table, generated_at: datetime, *, next_url: str | None = None) -> str:
    """``dumps(table_document(...))``, built column by column: several times faster.
    ``next_url``: the next page of a paged table, as ``"next"`` after ``"rows"``."""
    return "".join(json_chunks(table, generated_at, next_url=next_url))


def json_chunks(
    table: Table, generated_at: datetime, *, next_url: str | None = None
) -> Iterator[str]:
    """``render_json`` a few thousand rows at a time: no text of every row at once."""
    yield dumps(_head(table, generated_at))[:-1] + ',"rows":['
    yield from _separated(_rows(table, ","))
    yield "]}" if next_url is None else f'],"next":{dumps(next_url)}}}'


def _head(table: Table, generated_at: datetime) -> dict[str, Any]:
    return {
        "report": table.spec.name,
        "title": table.title,
        "generated_at": iso_utc(generated_at),
        "row_count": len(table),
        "warnings": list(table.warnings),
        "columns": table.columns,
    }


def _rows(table: Table, between: str) -> Iterator[str]:
    """Each chunk's rows as JSON objects keyed by label, in column order, ``between`` after
    each; a chunk of no rows is skipped."""
    keys = [
        ("{" if c == 0 else ",") + encode_basestring(label) + ":"
        for c, label in enumerate(table.columns)
    ]
    columns = [ColumnTexts(column, encode_basestring, "null", False) for column in table.data]
    for rows in table.chunks():
        if not columns:
            yield ("{}" + between) * len(rows)
            continue
        # Key, cell, key, cell, ..., "}" and ``between``: the chunk in one join.
        parts: list[Any] = []
        for key, texts in zip(keys, columns, strict=True):
            parts += (repeat(key), texts(rows))
        parts.append(repeat("}" + between))
        yield "".join(chain.from_iterable(zip(*parts, strict=False)))  # repeats never end


def _separated(chunks: Iterator[str]) -> Iterator[str]:
    """Chunks of objects each followed by a comma, without the very last comma."""
    held = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held[:-1]


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC to the second, e.g. "2025-02-01T12:00:00Z"; naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(document: Any) -> str:
    """Compact strict JSON, key order kept, UTF-8 characters as they are; decimals exact.

    ``ValueError`` for NaN or an infinity, ``TypeError`` for a value JSON has no form for.
    """
    return _json(document)


def _json(value: Any) -> str:
    kind = type(value)  # the common kinds first, by identity: this runs once per value
    if kind is str:
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is Decimal and value.is_finite():
        return format_number(value)
    if kind is dict:
        return "{" + ",".join([_key(k) + ":" + _json(v) for k, v in value.items()]) + "}"
    if kind is list or kind is tuple:
        return "[" + ",".join([_json(item) for item in value]) + "]"
    return _other(value)


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"JSON object keys are text, not {type(key).__name__}")
    return str(encode_basestring(key))


def _other(value: Any) -> str:
    """Booleans, floats, subclasses of the common kinds (enums, named tuples); else errors."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(encode_basestring(value))
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format_number(value)
    if isinstance(value, Decimal | float):
        raise ValueError(f"{value} is not a JSON number")
    if isinstance(value, dict):
        return _json(dict(value))
    if isinstance(value, list | tuple):
        return _json(list(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def render_rows_array(table: Table) -> str:
    """The rows alone, a bare list of objects keyed by label (``?_shape=array``): what
    ``pandas.read_json`` and most tools read as records."""
    return "".join(array_chunks(table))


def array_chunks(table: Table) -> Iterator[str]:
    """``render_rows_array`` a few thousand rows at a time."""
    yield "["
    yield from _separated(_rows(table, ","))
    yield "]"


def render_ndjson(table: Table) -> str:
    """One JSON object per row and line (newline-delimited JSON), for streaming readers."""
    return "".join(ndjson_chunks(table))


def ndjson_chunks(table: Table) -> Iterator[str]:
    """``render_ndjson`` a few thousand rows at a time."""
    return _rows(table, "\n")
