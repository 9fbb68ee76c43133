"""The renderer registry: a format's suffix -> the function that draws a table in it, in the
shape of Datasette's ``register_output_renderer``. It sits above the renderers, which know
nothing of each other, of formats or of URLs: what a renderer may need besides the table comes
in one ``Rendering`` value, its links planned beforehand (``urls``).

Rendering has a time limit: with ``Rendering.deadline`` set (the server sets the report's),
the rows a renderer walks raise ``DeadlineExceeded`` once it has passed, checked every
``CHECK_ROWS`` rows, so a 300,000-row workbook cannot run on for a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice
from typing import SupportsIndex, cast, overload

from .errors import DeadlineExceeded, InvalidRequest
from .formats import FORMATS
from .render.csv import ExcelPreset, render_csv, render_tsv
from .render.json import render_json, render_ndjson, render_rows_array
from .render.links import PageLinks
from .reports.options import RatioMode
from .reports.slicing import Page
from .reports.table import Cell, Table
from .urls import next_page_url, page_links

CHECK_ROWS = 1024  # rows a renderer walks between two looks at the clock


@dataclass(frozen=True)
class Rendering:
    """What a renderer may need besides the table: the time, the CSV preset, the CSP nonce,
    the page, the summary mode, the JSON shape, and the links the page shows."""

    generated_at: datetime
    excel: str = ""  # a key of formats.EXCEL_PRESETS, or "" for the plain CSV
    nonce: str | None = None
    page: Page | None = None
    ratios: RatioMode = "recompute"
    shape: str = ""  # JSON: "" for the document, "array" for the bare list of rows
    chosen_columns: bool = False  # the request chose the columns (``_col``)
    links: PageLinks | None = None  # an HTML page's links
    next_url: str | None = None  # a JSON page's next page
    deadline: float | None = None  # monotonic time the answer must be drawn by (None: none)


def plan_rendering(
    table: Table,
    fmt: str,
    generated_at: datetime,
    *,
    query: Iterable[tuple[str, str]] = (),
    page: Page | None = None,
    ratios: RatioMode = "recompute",
    excel: str = "",
    nonce: str | None = None,
    shape: str = "",
    deadline: float | None = None,
) -> Rendering:
    """The ``Rendering`` of ``table`` in ``fmt`` for a request's options (``query``), with
    the links the format shows planned here: the server's answers and the CLI's exports alike.
    ``deadline``: the monotonic time it must be drawn by."""
    pairs = list(query)
    links = None
    if FORMATS[fmt].links:
        links = page_links(table.spec, table.columns, pairs, page, ratios)
    return Rendering(
        generated_at,
        excel=excel,
        nonce=nonce,
        page=page,
        ratios=ratios,
        shape=shape,
        chosen_columns=any(name == "_col" for name, _ in pairs),
        links=links,
        next_url=next_page_url(table.spec, fmt, pairs, page),
        deadline=deadline,
    )


def _csv(table: Table, rendering: Rendering) -> str:
    return render_csv(table, excel=cast(ExcelPreset, rendering.excel or None))


def _json(table: Table, rendering: Rendering) -> str:
    if rendering.shape == "array":
        return render_rows_array(table)
    return render_json(table, rendering.generated_at, next_url=rendering.next_url)


def _html(table: Table, rendering: Rendering) -> str:
    # Imported on first use: Jinja is not needed to answer CSV or JSON.
    from .render.html import render_html

    if rendering.links is None:
        raise ValueError("an HTML page needs its links: plan the rendering (plan_rendering)")
    return render_html(
        table,
        rendering.generated_at,
        rendering.links,
        nonce=rendering.nonce,
        page=rendering.page,
        ratios=rendering.ratios,
        chosen_columns=rendering.chosen_columns,
    )


def _xlsx(table: Table, rendering: Rendering) -> bytes:
    # Imported on first use: XlsxWriter is not needed for the other formats.
    from .render.xlsx import WorkbookTooLarge, render_xlsx

    try:
        return render_xlsx(table)
    except WorkbookTooLarge as exc:
        raise InvalidRequest(
            f"{exc}; slice the report (_col, filters, _size) or ask .csv"
        ) from None


def _tsv(table: Table, rendering: Rendering) -> str:
    return render_tsv(table)


def _ndjson(table: Table, rendering: Rendering) -> str:
    return render_ndjson(table)


Renderer = Callable[[Table, Rendering], str | bytes]
# The registry: every suffix of ``formats.FORMATS`` and the function that draws it.
RENDERERS: dict[str, Renderer] = {
    "csv": _csv,
    "json": _json,
    "html": _html,
    "xlsx": _xlsx,
    "tsv": _tsv,
    "ndjson": _ndjson,
}


def render(table: Table, fmt: str, rendering: Rendering) -> bytes:
    """The table in format ``fmt`` (a key of ``RENDERERS``), as the bytes of the answer;
    ``DeadlineExceeded`` when ``rendering.deadline`` passes first."""
    deadline = rendering.deadline
    if deadline is not None:
        rows = _TimedRows(table.rows, deadline, fmt.upper())
        rows.check()
        table = replace(table, rows=rows)
    body = RENDERERS[fmt](table, rendering)
    return body.encode("utf-8") if isinstance(body, str) else body


class _TimedRows(list[list[Cell]]):
    """A table's rows that raise ``DeadlineExceeded`` once ``deadline`` has passed, as a
    renderer walks them: every ``CHECK_ROWS`` rows, and on every slice it takes."""

    def __init__(self, rows: list[list[Cell]], deadline: float, drawing: str) -> None:
        super().__init__(rows)
        self.deadline = deadline
        self.drawing = drawing

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` if the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise DeadlineExceeded(
                f"the report as {self.drawing}",
                "the report deadline (STRACT_REPORT_DEADLINE) passed while it was drawn; ask "
                "fewer rows or columns (filters, _size, _col), or CSV",
            )

    def __iter__(self) -> Iterator[list[Cell]]:
        rows = super().__iter__()
        while chunk := list(islice(rows, CHECK_ROWS)):
            self.check()
            yield from chunk

    @overload
    def __getitem__(self, index: SupportsIndex) -> list[Cell]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[Cell]]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> list[Cell] | list[list[Cell]]:
        if isinstance(index, slice):
            self.check()
        return super().__getitem__(index)
