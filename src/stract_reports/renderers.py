"""The renderer registry: a format's suffix -> the function that draws a table in it, in the
shape of Datasette's ``register_output_renderer``. It sits above the renderers, which know
nothing of each other, of formats or of URLs: what a renderer may need besides the table comes
in one ``Rendering`` value, its links planned beforehand (``urls``).

Drawing has a time limit: with ``Rendering.deadline`` set (the server sets the report's), an
answer that has not started by then is ``DeadlineExceeded`` (504): a renderer that makes its
answer whole before it starts (a workbook, a page) looks at the clock before each chunk of rows
it walks, so a 300,000-row workbook cannot run on for a minute. Once an answer has started (the
formats streamed a chunk of rows at a time, at a few µs a row) it runs to its end: cut there,
its first bytes would already have said 200.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import cast

from .errors import DeadlineExceeded, InvalidRequest
from .formats import FORMATS
from .render.csv import ExcelPreset, csv_chunks, tsv_chunks
from .render.json import array_chunks, json_chunks, ndjson_chunks
from .render.links import FacetLinks, PageLinks, Share
from .render.notes import HistoryNote
from .reports.options import RatioMode
from .reports.slicing import Page
from .reports.table import CHUNK_ROWS, Table
from .reports.words import Rows
from .urls import facet_links, next_page_url, page_links
from .view_urls import view_next_url, view_page_links


@dataclass(frozen=True)
class Rendering:
    """What a renderer may need besides the table: the time, the CSV preset, the CSP nonce,
    the page, the summary mode, the JSON shape, the links the page shows, what it offers to
    copy (``share``), and what a report from the store says of itself."""

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
    facets: tuple[FacetLinks, ...] = ()  # the facets asked (``_facet``), with their links
    note: HistoryNote | None = None  # a report from the store: which snapshots it used
    share: Share | None = None  # an HTML page's spreadsheet formulas, or the view to save


@dataclass(frozen=True)
class ViewPage:
    """The page is a saved view's: at ``path`` (root-relative), with the options its URL
    ``asked`` (``urls.view_query``)."""

    path: str
    asked: tuple[tuple[str, str], ...]


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
    note: HistoryNote | None = None,
    view: ViewPage | None = None,
    share: Share | None = None,
) -> Rendering:
    """The ``Rendering`` of ``table`` in ``fmt`` for a request's options (``query``), with
    the links the format shows planned here: the server's answers and the CLI's exports alike.
    ``deadline``: the monotonic time it must be drawn by; ``view``: the page is a saved view's,
    whose links stay on it (no facet links: a view's filters are saved)."""
    pairs = list(query)
    links = None
    facets: tuple[FacetLinks, ...] = ()
    if view is not None:
        asked = list(view.asked)
        if FORMATS[fmt].links:
            links = view_page_links(view.path, table.columns, pairs, asked, page)
        next_url = view_next_url(asked, page)
    else:
        if FORMATS[fmt].links:
            links = page_links(table.spec, table.columns, pairs, page, ratios)
        next_url = next_page_url(table.spec, fmt, pairs, page)
        facets_asked = [] if page is None else [facet for facet in page.facets if facet.asked]
        facets = facet_links(table.spec, fmt, pairs, facets_asked)
    return Rendering(
        generated_at,
        excel=excel,
        nonce=nonce,
        page=page,
        ratios=ratios,
        shape=shape,
        chosen_columns=any(name == "_col" for name, _ in pairs),
        links=links,
        next_url=next_url,
        deadline=deadline,
        facets=facets,
        note=note,
        share=share if FORMATS[fmt].links else None,
    )


def _csv(table: Table, rendering: Rendering) -> Iterable[str]:
    return csv_chunks(table, excel=cast(ExcelPreset, rendering.excel or None))


def _json(table: Table, rendering: Rendering) -> Iterable[str]:
    if rendering.shape == "array":
        return array_chunks(table)
    note = rendering.note
    return json_chunks(
        table,
        rendering.generated_at,
        page=rendering.page,
        next_url=rendering.next_url,
        facets=rendering.facets,
        snapshot=None if note is None else note.document,
    )


def _html(table: Table, rendering: Rendering) -> Iterable[str]:
    # Imported on first use: Jinja is not needed to answer CSV or JSON.
    from .render.html import render_html

    if rendering.links is None:
        raise ValueError("an HTML page needs its links: plan the rendering (plan_rendering)")
    page = render_html(
        table,
        rendering.generated_at,
        rendering.links,
        nonce=rendering.nonce,
        page=rendering.page,
        ratios=rendering.ratios,
        chosen_columns=rendering.chosen_columns,
        note=rendering.note,
        share=rendering.share,
    )
    return [page]


def _xlsx(table: Table, rendering: Rendering) -> Iterable[bytes]:
    # Imported on first use: XlsxWriter is not needed for the other formats.
    from .render.xlsx import WorkbookTooLarge, render_xlsx

    try:
        return [render_xlsx(table)]
    except WorkbookTooLarge as exc:
        raise InvalidRequest(
            f"{exc}; slice the report (_col, filters, _size) or ask .csv"
        ) from None


def _tsv(table: Table, rendering: Rendering) -> Iterable[str]:
    return tsv_chunks(table)


def _ndjson(table: Table, rendering: Rendering) -> Iterable[str]:
    return ndjson_chunks(table)


# Changed whenever a renderer's bytes for the same table change: an answer's strong ETag is
# computed over the table and the options, before rendering, and must not survive such a change.
RENDERING = "columns-1"

# A renderer gives the answer's text (or bytes) in chunks: the formats made of rows give a few
# thousand rows at a time, lazily, never the whole text at once (HTML and XLSX: one piece,
# made before the answer starts, so their errors are answers of their own).
Renderer = Callable[[Table, Rendering], Iterable[str] | Iterable[bytes]]
# The registry: every suffix of ``formats.FORMATS`` and the function that draws it.
RENDERERS: dict[str, Renderer] = {
    "csv": _csv,
    "json": _json,
    "html": _html,
    "xlsx": _xlsx,
    "tsv": _tsv,
    "ndjson": _ndjson,
}


# Bytes an answer holds per cell of its table while it is drawn and sent, estimated: a streamed
# format converts each distinct text of a column once and keeps it (about a cell's worth of
# text per cell when texts differ), a page and a workbook are made whole before they start
# (the page's cells as markup, the workbook's zipped file). bench/memory.py measures them.
ANSWER_CELL_BYTES = {"csv": 8, "tsv": 8, "json": 8, "ndjson": 8, "html": 400, "xlsx": 40}


def answer_bytes(table: Table, fmt: str) -> int:
    """About the most memory answering ``table`` in ``fmt`` holds at once, in bytes."""
    return ANSWER_CELL_BYTES[fmt] * len(table) * max(1, len(table.columns))


def render_chunks(table: Table, fmt: str, rendering: Rendering) -> Iterator[bytes]:
    """The table in format ``fmt`` (a key of ``RENDERERS``), as the answer's bytes in chunks.
    The renderer is called here and now (an HTML page or a workbook is made, or refused, before
    this returns); the rows of the other formats are rendered as the chunks are taken.
    ``DeadlineExceeded`` when ``rendering.deadline`` passes before this returns."""
    clock = None
    if rendering.deadline is not None:
        clock = _Clock(rendering.deadline, fmt.upper())
        clock.check()
        table = _TimedTable.of(table, clock)
    try:
        chunks = RENDERERS[fmt](table, rendering)
    finally:
        if clock is not None:
            clock.armed = False  # the answer starts: what is streamed runs to its end
    return (chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in chunks)


def render(table: Table, fmt: str, rendering: Rendering) -> bytes:
    """The table in format ``fmt``, as the bytes of the whole answer."""
    return b"".join(render_chunks(table, fmt, rendering))


class _Clock:
    """A rendering's deadline, armed while the renderer is called: ``check`` raises
    ``DeadlineExceeded`` once it has passed."""

    def __init__(self, deadline: float, drawing: str) -> None:
        self.deadline = deadline
        self.drawing = drawing
        self.armed = True

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` if armed and the deadline has passed."""
        if self.armed and time.monotonic() > self.deadline:
            raise DeadlineExceeded(
                f"the report as {self.drawing}",
                "the report deadline (STRACT_REPORT_DEADLINE) passed while it was drawn; ask "
                "fewer rows or columns (filters, _size, _col), or CSV",
            )


@dataclass(frozen=True)
class _TimedTable(Table):
    """A table whose chunks of rows look at ``clock`` before each is handed out: the rows a
    renderer walks count against the deadline."""

    clock: _Clock | None = None

    @classmethod
    def of(cls, table: Table, clock: _Clock) -> _TimedTable:
        """``table`` with ``clock``."""
        return cls(**{f.name: getattr(table, f.name) for f in fields(table)}, clock=clock)

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Rows]:
        """The selection a few thousand rows at a time, each after a look at the clock."""
        for rows in super().chunks(size):
            if self.clock is not None:
                self.clock.check()
            yield rows
