"""Renderers: one ``Table`` in, CSV, JSON or HTML text out."""

from __future__ import annotations

from datetime import datetime

from ..reports.table import Table
from .csv import neutralise, render_csv
from .json import dumps, table_document

FORMATS = ("csv", "json", "html")
MIMETYPES = {"csv": "text/csv", "json": "application/json", "html": "text/html"}


def split_format(path: str) -> tuple[str, str]:
    """A report path and its format: "geral/resumo.json" -> ("geral/resumo", "json");
    without a known suffix the format is CSV, the contract's default."""
    stem, dot, suffix = path.rpartition(".")
    return (stem, suffix) if dot and suffix in FORMATS else (path, "csv")


def render(
    table: Table,
    fmt: str,
    *,
    generated_at: datetime,
    excel_br: bool = False,
    nonce: str | None = None,
) -> str:
    """The table in ``fmt`` (one of ``FORMATS``); ``nonce`` marks an HTML page's inline code."""
    if fmt == "json":
        return dumps(table_document(table, generated_at))
    if fmt == "html":
        from .html import render_html

        return render_html(table, generated_at, nonce=nonce)
    return render_csv(table, excel_br=excel_br)


__all__ = [
    "split_format",
    "FORMATS",
    "MIMETYPES",
    "dumps",
    "neutralise",
    "render",
    "render_csv",
    "table_document",
]
