"""The links a page shows, as plain values handed to the renderers: they are planned above them
(``urls.page_links``), so no renderer builds a URL (Datasette hands ``urls`` to its templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..reports.facets import Facet, FacetValue


@dataclass(frozen=True)
class ReportLink:
    """One report and its root-relative URL in each format."""

    name: str
    urls: Mapping[str, str]


@dataclass(frozen=True)
class SortLink:
    """A column header's link: sort by the column (reversing the order it is sorted in)."""

    url: str | None  # None: the header is no link (a saved view's order is saved)
    order: str | None  # "ascending" / "descending" for the column the rows are sorted by


@dataclass(frozen=True)
class FacetLinks:
    """A facet and, per value, the URL that adds its filter (or removes it when in force)."""

    facet: Facet
    values: tuple[tuple[FacetValue, str, bool], ...]  # (value, toggle URL, filter in force)


@dataclass(frozen=True)
class FilterForm:
    """The page's GET form: where it goes, the options it keeps (hidden), the columns a filter
    may name, and the search in force."""

    action: str
    hidden: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    search: str


@dataclass(frozen=True)
class PageLinks:
    """Every link of a report page, each carrying the request's options where it should."""

    formats: tuple[tuple[str, str], ...]  # (label, URL): this view as a file, then downloads
    sort: tuple[SortLink, ...]  # one per column of the table, in its order
    paging: tuple[tuple[str, str, str], ...]  # (label, URL, rel); none on a whole table
    # (the filter in words, URL without it; None: it cannot be removed here): the chips
    filters: tuple[tuple[str, str | None], ...]
    ratios_switch: str | None  # the same page with the other ratio mode (None: none)
    reports: tuple[ReportLink, ...]  # the report's family, keeping the selection
    facets: tuple[FacetLinks, ...] = ()
    form: FilterForm | None = None  # None: a saved view's page, whose options are saved
    home: str | None = "/"  # the index (None: a saved view's page, which opens no other)


@dataclass(frozen=True)
class Share:
    """What a page offers to copy to take its report elsewhere: (label, text) lines, e.g. a
    spreadsheet formula that imports it, after a ``note`` saying what they are."""

    lines: tuple[tuple[str, str], ...]
    note: str = ""
