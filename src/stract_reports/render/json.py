"""A table as JSON: columns in order, rows as objects keyed by label, numbers as numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..reports.table import Table


def table_document(table: Table, generated_at: datetime) -> dict[str, Any]:
    """The JSON document of a table; cells are raw (no formula neutralisation), empty = null."""
    columns = table.columns
    return {
        "report": table.name,
        "title": table.title,
        "generated_at": iso_utc(generated_at),
        "row_count": len(table.rows),
        "columns": columns,
        "rows": rows_document(table),
    }


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC to the second, e.g. "2025-02-01T12:00:00Z"; naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Exact decimals print their own digits; float() is only the vehicle for json.
        exponent = value.as_tuple().exponent
        integral = isinstance(exponent, int) and exponent >= 0  # written without decimals
        return int(value) if integral else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(document: Any) -> str:
    """Compact JSON, key order kept, UTF-8 characters as they are."""
    return json.dumps(document, ensure_ascii=False, default=_number, separators=(",", ":"))


def rows_document(table: Table) -> list[dict[str, Any]]:
    """The rows alone, a bare list of objects keyed by label (``?_shape=array``): what
    ``pandas.read_json`` and most tools read as records."""
    columns = table.columns
    return [dict(zip(columns, row, strict=True)) for row in table.rows]


def render_ndjson(table: Table) -> str:
    """One JSON object per row and line (newline-delimited JSON), for streaming readers."""
    columns = table.columns
    return "".join(dumps(dict(zip(columns, row, strict=True))) + "\n" for row in table.rows)
