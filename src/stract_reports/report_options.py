"""A report request's options, read from its query and checked before any upstream call: one
reading for the server (``views``) and the CLI's export (``exporting``), so both accept the
same options and refuse the rest with the same words.

    ratios=recompute|sum, excel=br|1, download[=1], _shape=objects|array,
    the slicing options (``reports.slicing``) and the history options (``history_query``)

A bad value is ``InvalidRequest`` (400) naming the good ones. No Flask here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from .errors import InvalidRequest
from .formats import check_excel
from .history_query import HistoryQuery, parse_history
from .reports.options import JSON_SHAPES, RATIO_MODES, RatioMode
from .reports.slice_options import Slice, parse_slice
from .reports.slicing import BadOption
from .reports.spec import ReportSpec
from .setting_values import FALSE_WORDS, TRUE_WORDS, parse_bool


@dataclass(frozen=True)
class ReportOptions:
    """The query options a report takes, all read and checked before any upstream call."""

    ratios: RatioMode
    excel: str
    download: bool
    slice: Slice
    shape: str
    query: tuple[tuple[str, str], ...]
    history: HistoryQuery = HistoryQuery()
    now: datetime = datetime.min.replace(tzinfo=UTC)  # when the options were read


def read_options(
    fmt: str, spec: ReportSpec, pairs: Iterable[tuple[str, str]], *, now: datetime | None = None
) -> ReportOptions:
    """The options of a query (its ``(name, value)`` pairs, in order) for ``spec`` in ``fmt``;
    where an option is given twice, its first value counts (as a URL's does), but for the
    slicing and history options, which refuse it."""
    query = tuple(pairs)
    first: dict[str, str] = {}
    for name, value in query:
        first.setdefault(name, value)
    ratios = first.get("ratios", RATIO_MODES[0])
    if ratios not in RATIO_MODES:
        raise InvalidRequest(f"ratios must be {' or '.join(map(repr, RATIO_MODES))}")
    excel = check_excel(first.get("excel", ""), fmt)
    shape = first.get("_shape", "")
    if shape not in JSON_SHAPES:
        raise InvalidRequest(f"_shape must be 'objects' or 'array', not {shape!r}")
    if shape and fmt != "json":
        raise InvalidRequest(f"_shape applies to .json only, not .{fmt}")
    try:
        sl = parse_slice(query)
    except BadOption as exc:
        raise InvalidRequest(str(exc)) from None
    now = now or datetime.now(UTC)
    history = parse_history(query, now=now, summary=spec.summary)
    download = _switch("download", first.get("download"))
    return ReportOptions(cast(RatioMode, ratios), excel, download, sl, shape, query, history, now)


def _switch(name: str, value: str | None) -> bool:
    """A query switch: absent is no, a bare ``?name`` is yes, else the settings' words."""
    if value is None:
        return False
    switched = True if value == "" else parse_bool(value)
    if switched is None:
        words = ", ".join(TRUE_WORDS + FALSE_WORDS)
        raise InvalidRequest(f"{name} must be one of {words} (or bare ?{name}), not {value!r}")
    return switched
