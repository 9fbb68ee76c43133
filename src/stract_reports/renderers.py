"""The renderer registry: a format's suffix -> the function that draws a table in it, in the
shape of Datasette's ``register_output_renderer``. It sits above the renderers, which know
nothing of each other, of formats or of URLs: what a renderer may need besides the table comes
in one ``Rendering`` value, its links planned beforehand (``urls``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from .errors import InvalidRequest
from .formats import FORMATS
from .render.csv import ExcelPreset, csv_chunks, tsv_chunks
from .render.json import array_chunks, json_chunks, ndjson_chunks
from .render.links import PageLinks, Share
from .reports.options import RatioMode
from .reports.slicing import Page
from .reports.table import Table
from .urls import next_page_url, page_links, view_next_url, view_page_links


@dataclass(frozen=True)
class Rendering:
    """What a renderer may need besides the table: the time, the CSV preset, the CSP nonce,
    the page, the summary mode, the JSON shape, the links the page shows and what it offers to
    copy (``share``)."""

    generated_at: datetime
    excel: str = ""  # a key of formats.EXCEL_PRESETS, or "" for the plain CSV
    nonce: str | None = None
    page: Page | None = None
    ratios: RatioMode = "recompute"
    shape: str = ""  # JSON: "" for the document, "array" for the bare list of rows
    chosen_columns: bool = False  # the request chose the columns (``_col``)
    links: PageLinks | None = None  # an HTML page's links
    next_url: str | None = None  # a JSON page's next page
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
    view: ViewPage | None = None,
    share: Share | None = None,
) -> Rendering:
    """The ``Rendering`` of ``table`` in ``fmt`` for a request's options (``query``), with
    the links the format shows planned here: the server's answers and the CLI's exports alike;
    ``view``: the page is a saved view's, whose links stay on it."""
    pairs = list(query)
    links = None
    if view is not None:
        asked = list(view.asked)
        if FORMATS[fmt].links:
            links = view_page_links(view.path, table.columns, pairs, asked, page)
        next_url = view_next_url(asked, page)
    else:
        if FORMATS[fmt].links:
            links = page_links(table.spec, table.columns, pairs, page, ratios)
        next_url = next_page_url(table.spec, fmt, pairs, page)
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
        share=share if FORMATS[fmt].links else None,
    )


def _csv(table: Table, rendering: Rendering) -> Iterable[str]:
    return csv_chunks(table, excel=cast(ExcelPreset, rendering.excel or None))


def _json(table: Table, rendering: Rendering) -> Iterable[str]:
    if rendering.shape == "array":
        return array_chunks(table)
    return json_chunks(table, rendering.generated_at, next_url=rendering.next_url)


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


def render_chunks(table: Table, fmt: str, rendering: Rendering) -> Iterator[bytes]:
    """The table in format ``fmt`` (a key of ``RENDERERS``), as the answer's bytes in chunks.
    The renderer is called here and now (an HTML page or a workbook is made, or refused, before
    this returns); the rows of the other formats are rendered as the chunks are taken."""
    chunks = RENDERERS[fmt](table, rendering)
    return (chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in chunks)


def render(table: Table, fmt: str, rendering: Rendering) -> bytes:
    """The table in format ``fmt``, as the bytes of the whole answer."""
    return b"".join(render_chunks(table, fmt, rendering))
