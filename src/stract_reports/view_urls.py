"""A saved view's URLs, ``/v/<id>[.format]``: what a view's URL may change of it
(``view_query``), the links of its page (``view_page_links``, ``view_next_url``), which never
name another report nor change the view's options, and what pages offer to copy: a view's
spreadsheet formulas (``view_share``) or the command that saves a report as one
(``save_share``); ``parse_report_url`` reads the report a view is saved with, as the server
reads a request. No Flask here.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, urlencode

from .errors import InvalidRequest
from .render.links import PageLinks, Share, SortLink
from .report_options import ReportOptions, read_options
from .reports.metrics import label_key
from .reports.options import FORMAT_ONLY_OPTIONS, SECRET_OPTIONS, VIEW_OPTIONS
from .reports.slicing import Page
from .reports.spec import ReportSpec
from .urls import VIEW_PREFIX, Pairs, filter_words, parse_report, query_with, sorted_by


def parse_report_url(text: str) -> tuple[ReportSpec, str, ReportOptions]:
    """A report's URL as a person writes it for the CLI (``geral/resumo.csv?_by=Country``):
    the report, its format and its options, checked as the server checks a request."""
    path, _, query = text.partition("?")
    spec, fmt = parse_report(path)
    if any(name in SECRET_OPTIONS for name, _ in parse_qsl(query, keep_blank_values=True)):
        raise InvalidRequest("leave the key out of the URL: a view carries its key's scope")
    return spec, fmt, read_options(fmt, spec, parse_qsl(query, keep_blank_values=True))


def view_path(view_id: str, fmt: str = "") -> str:
    """The root-relative URL of a view (``fmt``: in another format than its own)."""
    return f"{VIEW_PREFIX}{view_id}" + (f".{fmt}" if fmt else "")


def view_query(saved: str, asked: Iterable[tuple[str, str]], *, fmt: str, own_fmt: str) -> Pairs:
    """The options a view is answered with: its ``saved`` query, the options of ``asked``
    that a view's URL may set (``VIEW_OPTIONS``) in place of the saved ones; any other is a
    400. In another format than its own (``fmt`` != ``own_fmt``), the saved options of its own
    format (``excel=``, ``download``, ``_shape``) are left out."""
    asked = list(asked)
    refused = [name for name, _ in asked if name not in VIEW_OPTIONS]
    if refused:
        allowed = ", ".join(VIEW_OPTIONS)
        raise InvalidRequest(
            f"a saved view takes only {allowed} from its URL, not {refused[0]!r}: its other "
            "options were saved with it"
        )
    given = {name for name, _ in asked}
    kept = [
        (name, value)
        for name, value in parse_qsl(saved, keep_blank_values=True)
        if name not in given and (fmt == own_fmt or name not in FORMAT_ONLY_OPTIONS)
    ]
    return kept + asked


def view_page_links(
    path: str,
    columns: Sequence[str],
    query: Iterable[tuple[str, str]],
    asked: Pairs,
    page: Page | None,
) -> PageLinks:
    """The links of a view's HTML page at ``path``: the view in other formats and its pages,
    with the options its URL ``asked`` (``query``: every option it is answered with). Nothing
    else: no other report, no sort, filter or ratio switch (a view's options are saved)."""
    kept = [(n, v) for n, v in asked if n != "_next"]
    formats = tuple(
        (label, _with_query(f"{path}.{fmt}", urlencode(kept)))
        for label, fmt in (("CSV", "csv"), ("JSON", "json"), ("Excel (.xlsx)", "xlsx"))
    )
    sort_key, descending = sorted_by(list(query))
    order = "descending" if descending else "ascending"
    sort = tuple(SortLink(None, order if label_key(c) == sort_key else None) for c in columns)
    paging: list[tuple[str, str, str]] = []
    if page is not None and page.next is not None:
        paging.append(("Next page", "?" + query_with(asked, {"_next": page.next}), "next"))
    if page is not None and page.offset > 0:
        paging.append(("First page", "?" + query_with(asked, {"_next": None}), "first"))
    filters = tuple(
        (words, None)
        for name, value in query
        if name not in VIEW_OPTIONS and (words := filter_words(name, value)) is not None
    )
    return PageLinks(formats, sort, tuple(paging), filters, None, (), home=None)


def view_next_url(asked: Pairs, page: Page | None) -> str | None:
    """The page after ``page`` of a view, relative to the view's own URL (so that no body
    repeats its id): ``?_next=500`` with the options its URL asked."""
    if page is None or page.next is None:
        return None
    return "?" + query_with(asked, {"_next": page.next})


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def view_share(root: str, view_id: str, own_fmt: str) -> Share:
    """A view's page: the spreadsheet formulas that import it, at ``root`` (the address this
    server was asked at: ``https://reports.example``)."""
    url = root + view_path(view_id, "" if own_fmt == "csv" else "csv")
    note = "Paste into a cell; the spreadsheet reads this view live on each refresh:"
    return Share(
        (
            ("Google Sheets", f'=IMPORTDATA("{url}")'),
            (
                "Excel (Power Query)",
                f'= Csv.Document(Web.Contents("{url}"), [Delimiter=",", Encoding=65001])',
            ),
        ),
        note,
    )


def save_share(spec: ReportSpec, query: Iterable[tuple[str, str]], key_name: str | None) -> Share:
    """Any other page: the command that saves this report with these options as a view, in
    CSV for a spreadsheet (made by the owner, for a key: the reader's own, when scoped)."""
    pairs = [
        (n, v)
        for n, v in query
        if n not in FORMAT_ONLY_OPTIONS and n not in SECRET_OPTIONS and n not in ("_next", "_")
    ]
    report = _with_query(f"{spec.name}.csv", urlencode(pairs))
    command = f"stract-reports views add NAME {shlex.quote(report)} --key {key_name or 'KEY_NAME'}"
    note = (
        "A spreadsheet imports a saved view: one URL that carries its own key's scope, "
        "for Google Sheets' IMPORTDATA and Excel's Power Query. The owner saves this report "
        "as one with this command, which prints both formulas:"
    )
    return Share((("Save as a view", command),), note)
