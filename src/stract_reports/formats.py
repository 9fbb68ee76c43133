"""The output formats as data, and the one decision of how an answer is labelled.

- ``FORMATS``: ``{suffix: Format}``, what each format is (media type, page size, totals row,
  offered facets, CSP nonce, Excel presets, downloads). The first one is the default: a URL
  without a suffix.
- ``negotiate``: the answer's format, media type and disposition for a request.

No renderer here (``renderers`` maps each suffix to the function that draws it) and no Flask,
so the CLI and the app decide alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from .errors import InvalidRequest
from .reports.options import HISTORY_OPTIONS, SECRET_OPTIONS
from .reports.spec import ReportSpec

# What a browser is given per page of HTML unless ``_size`` says otherwise.
HTML_PAGE_SIZE = 500


@dataclass(frozen=True)
class Format:
    """One output format: how its answer is labelled, and what it takes and shows."""

    mimetype: str
    # Same table, same bytes? Then a strong ETag; JSON and HTML carry their generation time.
    deterministic: bool = False
    downloadable: bool = True  # answers ?download= with an attachment
    takes_excel: bool = False  # accepts the ?excel= presets
    # The media type a browser navigating to it is shown (the same bytes); None: no other.
    for_browsers: str | None = None
    page_size: int | None = None  # rows per page unless ``_size`` says; None: every row
    totals: bool = False  # a totals row of the whole slice: every selected ad, every group
    offers_facets: bool = False  # facets of the text columns with few values, unasked
    nonce: bool = False  # carries inline code: a CSP nonce per answer
    links: bool = False  # a page with links, planned for it by ``urls.page_links``


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: dict[str, Format] = {
    "csv": Format("text/csv", deterministic=True, takes_excel=True, for_browsers="text/plain"),
    "json": Format("application/json"),
    "html": Format(
        "text/html",
        downloadable=False,
        page_size=HTML_PAGE_SIZE,
        totals=True,
        offers_facets=True,
        nonce=True,
        links=True,
    ),
    "xlsx": Format(XLSX),  # the workbook records when it was written
    "tsv": Format("text/tab-separated-values", deterministic=True),
    "ndjson": Format("application/x-ndjson", deterministic=True),
}
DEFAULT_FORMAT = next(iter(FORMATS))
# ?excel= presets of the CSV, and the file-name part that tells their downloads apart.
EXCEL_PRESETS = {"br": "excel-br", "1": "excel"}
# Options a download's name does not digest: the Excel preset is named in words, the others
# leave the file's bytes alone (and a key never appears in an answer).
_NAMED_OPTIONS = frozenset({"excel", "download"}) | SECRET_OPTIONS
# Named by a report from the store as the snapshots' times they resolve to ("7d" and the
# time it meant name one file alike).
_TIME_OPTIONS = frozenset(HISTORY_OPTIONS) - {"_grain"}


def format_choices() -> str:
    """The formats in words: ".csv (the default), .json or .html"."""
    first, *others = (f".{name}" for name in FORMATS)
    return f"{first} (the default), {', '.join(others[:-1])} or {others[-1]}"


def check_excel(preset: str, fmt: str) -> str:
    """``preset`` if it is an Excel preset that ``fmt`` takes ("" is none); else InvalidRequest."""
    if preset and preset not in EXCEL_PRESETS:
        names = [f"excel={name}" for name in EXCEL_PRESETS]
        known = (
            f"the only Excel preset is {names[0]}"
            if len(names) == 1
            else f"the Excel presets are {', '.join(names[:-1])} and {names[-1]}"
        )
        raise InvalidRequest(f"no Excel preset {preset!r}: {known}")
    if preset and not FORMATS[fmt].takes_excel:
        takers = ", ".join(f".{name}" for name, f in FORMATS.items() if f.takes_excel)
        raise InvalidRequest(f"excel={preset} applies to {takers} only, not .{fmt}")
    return preset


def download_name(
    spec: ReportSpec,
    fmt: str,
    excel: str,
    generated_at: datetime,
    query: Iterable[tuple[str, str]] = (),
    when: str | None = None,
) -> str:
    """The file name of a download: "stract-geral-resumo-excel-br-20250201T1200Z.csv", with
    a short digest of the options that change the file when any is given (filters, columns,
    sort, page, grouping, ratio mode, shape): "stract-geral-1a2b3c4d-20250201T1200Z.csv", so
    two slices never share a name. A report from the store names its snapshots' times instead
    of the time it was made (``when``: "stract-geral-as-of-20261201T100005Z.csv")."""
    preset = f"-{EXCEL_PRESETS[excel]}" if excel else ""
    # Only safe characters: an upstream's platform value may hold quotes or line breaks.
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", spec.slug)
    named = _NAMED_OPTIONS | _TIME_OPTIONS if when else _NAMED_OPTIONS
    # An empty ``_option=`` is an option not given; an empty filter value is a filter.
    shown = [
        (name, value)
        for name, value in query
        if name not in named and (value or not name.startswith("_"))
    ]
    digest = f"-{hashlib.sha256(urlencode(shown).encode()).hexdigest()[:8]}" if shown else ""
    moment = re.sub(r"[^A-Za-z0-9_-]", "_", when) if when else f"{generated_at:%Y%m%dT%H%MZ}"
    return f"stract-{slug}{digest}{preset}-{moment}.{fmt}"


@dataclass(frozen=True)
class Answer:
    """How a report is answered: its format, media type and Content-Disposition."""

    fmt: str
    mimetype: str
    download: bool
    varies_on_accept: bool  # the media type depends on the Accept header


def negotiate(fmt: str, *, prefers_html: bool, download: bool) -> Answer:
    """The answer for a report in ``fmt``: a browser that navigates to a CSV (prefers HTML,
    asks no download) is shown the same bytes as text; programs get ``text/csv``."""
    spec = FORMATS[fmt]
    download = download and spec.downloadable
    if spec.for_browsers is None:
        return Answer(fmt, spec.mimetype, download, varies_on_accept=False)
    mimetype = spec.for_browsers if prefers_html and not download else spec.mimetype
    return Answer(fmt, mimetype, download, varies_on_accept=True)


def prefers_html(quality: Callable[[str], float]) -> bool:
    """Whether an Accept header (its ``quality`` function) puts HTML above JSON and CSV: a
    browser navigating. Strictly above: ``*/*`` or no Accept (curl, scripts) is a program."""
    html = quality("text/html")
    return html > quality("application/json") and html > quality("text/csv")
