"""A report request's options, read from its query and checked before any upstream call: one
reading for the server (``views``) and the CLI's export (``exporting``), so both accept the
same options and refuse the rest with the same words (an ``InvalidRequest``, a 400).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from .config import FALSE_WORDS, TRUE_WORDS, parse_bool
from .errors import InvalidRequest
from .formats import check_excel
from .reports.options import JSON_SHAPES, RATIO_MODES, RatioMode
from .reports.slicing import BadOption, Slice, parse_slice

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReportOptions:
    """The query options a report takes, all read and checked before any upstream call."""

    ratios: RatioMode
    excel: str
    download: bool
    slice: Slice
    shape: str
    query: Pairs  # every (name, value) of the query, in order: the links a page shows keep them


def read_options(query: Iterable[tuple[str, str]], fmt: str) -> ReportOptions:
    """``ratios=``, ``excel=``, ``download=``, ``_shape=`` and the slicing options of a query
    (its pairs, in order) for a report in ``fmt``; a bad value is an ``InvalidRequest``
    naming the good ones."""
    pairs = tuple(query)
    ratios = _first(pairs, "ratios", RATIO_MODES[0])
    if ratios not in RATIO_MODES:
        raise InvalidRequest(f"ratios must be {' or '.join(map(repr, RATIO_MODES))}")
    excel = check_excel(_first(pairs, "excel", ""), fmt)
    shape = _first(pairs, "_shape", "")
    if shape not in JSON_SHAPES:
        raise InvalidRequest(f"_shape must be 'objects' or 'array', not {shape!r}")
    if shape and fmt != "json":
        raise InvalidRequest(f"_shape applies to .json only, not .{fmt}")
    try:
        sl = parse_slice(pairs)
    except BadOption as exc:
        raise InvalidRequest(str(exc)) from None
    download = _switch(pairs, "download")
    return ReportOptions(cast(RatioMode, ratios), excel, download, sl, shape, pairs)


def _first(pairs: Pairs, name: str, default: str) -> str:
    """The first value of ``name`` in the query, as a web form's reader takes it."""
    return next((value for key, value in pairs if key == name), default)


def _switch(pairs: Pairs, name: str) -> bool:
    """A query switch: absent is no, a bare ``?name`` is yes, else the settings' words."""
    value = next((value for key, value in pairs if key == name), None)
    if value is None:
        return False
    switched = True if value == "" else parse_bool(value)
    if switched is None:
        words = ", ".join(TRUE_WORDS + FALSE_WORDS)
        raise InvalidRequest(f"{name} must be one of {words} (or bare ?{name}), not {value!r}")
    return switched
