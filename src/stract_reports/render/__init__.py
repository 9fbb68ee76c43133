"""Renderers: one ``Table`` in, CSV, JSON or HTML text out (the registry is ``catalog.FORMATS``)."""

from __future__ import annotations

from .csv import neutralise, render_csv
from .json import dumps, table_document

__all__ = ["dumps", "neutralise", "render_csv", "table_document"]
