"""Parsing the slicing options of a request's query into a ``Slice``: filters, search,
``_by``, ``_facet``, ``_flags``, ``_sort``/``_sort_desc``, ``_col``, ``_size`` and ``_next``.

Done before any upstream call, so a wrong option is a 400 (``BadOption``) that costs no read;
what the options mean, and how they are applied to a report's ads, is ``slicing.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .filters import BadFilter, Filter, parse_filter
from .numbers import NumberOutOfRange, looks_numeric, parse_number
from .options import OTHER_OPTIONS, SLICING_OPTIONS, SWITCH_WORDS
from .selection import BadOption

# A page token or size longer than this is no number we could have issued.
_MAX_DIGITS = 12

Query = Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class Slice:
    """The slicing options of one request, parsed but not yet checked against the columns."""

    filters: tuple[Filter, ...] = ()
    search: str | None = None  # ``_search``: words every selected ad holds in its text
    columns: tuple[str, ...] = ()  # the ``_col`` values as given, each maybe a comma list
    sort: str | None = None
    descending: bool = False
    size: int | None = None  # None: the caller's default page size
    offset: int = 0  # where the page starts, from ``_next``
    by: str | None = None
    facets: tuple[str, ...] = ()  # ``_facet`` labels as given
    flags: bool = False  # ``_flags``: a Flags column on ad tables


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """The query as (name, value) pairs in order, from a mapping of lists or from pairs."""
    if isinstance(query, Mapping):
        return [(name, value) for name, values in query.items() for value in values]
    return list(query)


def parse_slice(query: Query, *, other: Iterable[str] = OTHER_OPTIONS) -> Slice:
    """The slicing options of ``query``; names in ``other`` are skipped. An empty value is an
    option not given. Raises ``BadOption`` on an unknown ``_option``, one given twice, a size
    or page token that is not one, or a filter value written as a number out of the bounds
    (no cell can equal it, and it is known before anything is read)."""
    skip = frozenset(other)
    filters: list[Filter] = []
    repeated: dict[str, list[str]] = {"_col": [], "_facet": []}
    single: dict[str, str] = {}
    for name, value in query_pairs(query):
        if name in skip:
            continue
        if not name.startswith("_"):
            try:
                parsed = parse_filter(name, value)
            except BadFilter as exc:
                raise BadOption(str(exc)) from None
            _check_bounds(parsed)
            filters.append(parsed)
        elif name not in SLICING_OPTIONS:
            raise BadOption(f"unknown option {name!r}; options: {', '.join(SLICING_OPTIONS)}")
        elif not value:
            continue
        elif name in repeated:
            repeated[name].append(value)
        elif name in single:
            raise BadOption(f"{name} is given twice")
        else:
            single[name] = value
    if "_sort" in single and "_sort_desc" in single:
        raise BadOption("give _sort or _sort_desc, not both")
    flags = single.get("_flags", "0").strip().lower()
    if flags not in SWITCH_WORDS:
        raise BadOption(f"_flags must be 1 or 0, not {flags!r}")
    return Slice(
        filters=tuple(filters),
        search=single.get("_search", "").strip() or None,
        columns=tuple(repeated["_col"]),
        sort=single.get("_sort") or single.get("_sort_desc"),
        descending="_sort_desc" in single,
        size=_count(single, "_size", "a page size", minimum=1),
        offset=_count(single, "_next", "a page token", minimum=0) or 0,
        by=single.get("_by"),
        facets=tuple(repeated["_facet"]),
        flags=SWITCH_WORDS[flags],
    )


def _count(single: dict[str, str], name: str, what: str, *, minimum: int) -> int | None:
    text = single.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS or int(text) < minimum:
        raise BadOption(f"{name} must be {what}: a whole number of at least {minimum}")
    return int(text)


def _check_bounds(f: Filter) -> None:
    """A filter value written as a number must be within the bounds a report's numbers keep
    (each of an ``__in`` list's values)."""
    for value in f.value.split(",") if f.op == "in" else (f.value,):
        if looks_numeric(value):
            try:
                parse_number(value)
            except NumberOutOfRange as exc:
                raise BadOption(f"filter {f.name}: {exc}") from None
