"""Reports from the store: a report as it was (``as_of``), its change over a period
(``since``/``until``), compared with an earlier time (``compare``), or a time series
(``_grain``). Each answer says which snapshots it used (``render.notes.HistoryNote``).

A state is a report's source at one moment: read back from the store and laid out by the same
code as a live read (``pipeline.source_of``), so ``as_of`` is byte for byte the live report of
then; or read live (``until=now``, ``compare`` without ``as_of``), and then recorded like any
report. Sources read back are cached per report and snapshot ids, a few at a time: snapshots
never change, so a repeated ``as_of`` costs what slicing it costs. Concurrent requests for the
same state share one build through the app's gate.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from .errors import InvalidRequest
from .formats import FORMATS
from .history_query import HistoryQuery, exact_time, shown_time
from .pipeline import Source, slice_source, source_of
from .render.linechart import render_series_svg
from .render.notes import HistoryNote
from .report_options import ReportOptions
from .reports.collector import gc_paused
from .reports.metrics import label_key
from .reports.options import RatioMode
from .reports.periods import (
    Identities,
    aligned,
    changes,
    compare,
    period_starts,
    stack_periods,
)
from .reports.selection import select_ads
from .reports.slice_options import Slice
from .reports.slicing import BadOption, Page, Selection, arrange, select
from .reports.spec import ReportSpec
from .reports.table import Table
from .scope import Scope
from .store import SnapshotInfo, Store
from .urls import history_url

# Periods of one time series at most: more is a 400 (a wider grain, or a shorter range).
MAX_PERIODS = 1000
# Sources read back kept per process (each the size of a report's ads).
CACHED_SOURCES = 4
# Builds a source: for a key (shared with concurrent requests), by a function.
Shared = Callable[[Hashable, Callable[[], Source]], Source]


@dataclass(frozen=True)
class State:
    """A report's source at one moment, and where it came from: the snapshots it was read
    back from, or none (read live just now)."""

    source: Source
    snapshots: tuple[SnapshotInfo, ...]
    key: tuple[int, ...] = ()  # the snapshots' ids (empty: live)

    @property
    def ids(self) -> Identities:
        """Who each row and group is (states for periods and comparisons carry them)."""
        assert self.source.ids is not None
        return self.source.ids


class SourceCache:
    """The last few sources read back, by (report, snapshot ids, identified)."""

    def __init__(self, size: int = CACHED_SOURCES) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._sources: OrderedDict[Hashable, Source] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Source]) -> Source:
        """The cached source of ``key``, or ``build()``'s, kept."""
        with self._lock:
            found = self._sources.get(key)
            if found is not None:
                self._sources.move_to_end(key)
                return found
        source = build()
        with self._lock:
            self._sources[key] = source
            while len(self._sources) > self.size:
                self._sources.popitem(last=False)
        return source


@dataclass(frozen=True)
class Past:
    """What a history report needs besides its options: the store, the cache, the app's way
    of sharing builds, and a live read with identities (built and recorded as reports are)."""

    store: Store
    cache: SourceCache
    shared: Shared
    live: Callable[[], Source]  # within ``scope``
    scope: Scope | None = None  # a scoped key's: what it sees of every snapshot

    def state_at(self, spec: ReportSpec, at: datetime, *, identify: bool) -> State:
        """``spec``'s source as of ``at``, read back (or from the cache), within ``scope``."""
        snapshots = self.store.snapshots
        located = snapshots.locate(at, None if spec.platform is None else [spec.platform])
        key = ("history", spec, located.key, identify, self.scope)

        def build() -> Source:
            # Millions of values read back and laid out, none in a reference cycle: the
            # collector paused for both, as for a live read (``reports.collector``).
            with gc_paused():
                data = snapshots.read(located, literals=True).data
                values = [p.platform.value for p in data]
                return source_of(data, spec, values, identify=identify, scope=self.scope)

        source = self.shared(key, lambda: self.cache.get(key, build))
        return State(source, tuple(located.snapshots), located.key)

    def now(self) -> State:
        """The report read live now (and recorded), with identities."""
        return State(self.live(), ())


def history_for(
    past: Past, spec: ReportSpec, fmt: str, options: ReportOptions
) -> tuple[Table, Page, HistoryNote]:
    """What a request (or an export) in ``fmt`` with history ``options`` is answered with, and
    what it says of itself: as ``pipeline.slice_for`` for a live read, in the format's page
    size, with its totals row."""
    shown, query = FORMATS[fmt], options.history
    asked = _Asked(
        past,
        spec,
        query,
        options.slice,
        options.ratios,
        shown.page_size,
        shown.totals,
        options.now,
    )
    try:
        if query.since is not None:
            return _series(asked) if query.grain is not None else _change(asked)
        if query.compare is not None:
            return _compared(asked)
        assert query.as_of is not None
        state = past.state_at(spec, query.as_of, identify=False)
        return (*asked.cut(state.source), _as_of_note(query.as_of, state))
    except BadOption as exc:
        raise InvalidRequest(str(exc)) from None


@dataclass(frozen=True)
class _Asked:
    """One report over time as asked: where it reads, what of it, and how it is cut."""

    past: Past
    spec: ReportSpec
    query: HistoryQuery
    sl: Slice
    ratios: RatioMode
    page_size: int | None
    totals: bool
    now: datetime

    def state_at(self, at: datetime) -> State:
        """The report's state as of ``at``, with identities."""
        return self.past.state_at(self.spec, at, identify=True)

    def cut(self, source: Source) -> tuple[Table, Page]:
        """The slice asked of ``source``, in its page."""
        sl, ratios, size, totals = self.sl, self.ratios, self.page_size, self.totals
        return slice_source(source, sl, ratios=ratios, page_size=size, totals=totals)

    def select(self, source: Source) -> Selection:
        """The rows of ``source`` the slice keeps (its filters and search), or their groups."""
        selected = select_ads(source.ads.table, self.sl.filters, self.sl.search)
        return select(source.ads, self.sl, selected, summary=source.summary, ratios=self.ratios)


def _change(asked: _Asked) -> tuple[Table, Page, HistoryNote]:
    query = asked.query
    assert query.since is not None
    start = asked.state_at(query.since)
    end = _end(asked.past, asked.spec, query, asked.now)
    return (*asked.cut(_changed(end, start)), _change_note(query, start, end, asked.now))


def _end(past: Past, spec: ReportSpec, query: HistoryQuery, now: datetime) -> State:
    """The state at the end of the period: a fresh read (``until=now``), else the latest
    snapshot at or before ``until`` (default: now)."""
    if query.until_now:
        return past.now()
    return past.state_at(spec, query.until or now, identify=True)


def _changed(end: State, start: State) -> Source:
    """The source of the change from ``start`` to ``end`` (``periods.changes``)."""
    ads = changes(end.source.ads, end.ids.ads, start.source.ads, start.ids.ads)
    return Source(ads, end.source.summary, end.source.ids)


def _compared(asked: _Asked) -> tuple[Table, Page, HistoryNote]:
    query, sl = asked.query, asked.sl
    assert query.compare is not None
    current = asked.past.now() if query.as_of is None else asked.state_at(query.as_of)
    then = asked.state_at(query.compare)
    mine, theirs = asked.select(current.source), asked.select(then.source)
    table = compare(
        mine.table,
        theirs.table,
        _row_keys(current, mine, sl),
        _row_keys(then, theirs, sl),
    )
    table, page = arrange(table, sl, page_size=asked.page_size, totals=asked.totals)
    return table, page, _compare_note(query, current, then, asked.now)


def _row_keys(state: State, selection: Selection, sl: Slice) -> Sequence[Hashable]:
    """Who each selected row is: an ad, a default group (account or platform), or the value
    a ``_by`` summary groups by."""
    source = state.source
    if source.summary is None:
        return [state.ids.ads[cast(int, i)] for i in selection.origins]
    if sl.by is not None:
        return selection.origins
    groups = state.ids.of_groups(source.ads, source.summary)
    return [groups[cast(int, i)] for i in selection.origins]


def _series(asked: _Asked) -> tuple[Table, Page, HistoryNote]:
    query, sl, now = asked.query, asked.sl, asked.now
    assert query.since is not None and query.grain is not None
    until = now if query.until_now or query.until is None else query.until
    bounds = period_starts(query.since, until, query.grain)
    if len(bounds) - 1 > MAX_PERIODS:
        raise InvalidRequest(
            f"since..until holds {len(bounds) - 1:,} periods of a {query.grain}, more than "
            f"{MAX_PERIODS:,}: give a wider _grain or a shorter period"
        )
    states: list[State] = []
    for bound in bounds:
        if query.until_now and bound == until:
            states.append(asked.past.now())
        else:
            states.append(asked.state_at(bound))
    periods: list[tuple[str, Table]] = []
    # A period with no snapshot in it is the same zero change of the same state: made once.
    unchanged: dict[tuple[int, ...], Table] = {}
    for begin, start, end in zip(bounds, states, states[1:], strict=False):
        label = shown_time(_period_start(begin, query))
        if end.key and end.key == start.key and end.key in unchanged:
            periods.append((label, unchanged[end.key]))
            continue
        source = _changed(end, start)
        table = asked.select(source).table
        if end.key and end.key == start.key:
            unchanged[end.key] = table
        periods.append((label, table))
    empty = asked.select(states[-1].source)
    stacked = stack_periods(periods, empty.table)
    note = _series_note(query, states, until, stacked, sl)
    table, page = arrange(stacked, sl, page_size=asked.page_size)
    return table, page, note


def _period_start(begin: datetime, query: HistoryQuery) -> datetime:
    """A period's label: the start of the hour, day or week it is (the first may begin
    later, at ``since``)."""
    assert query.grain is not None
    return aligned(begin, query.grain)


# What each answer says of itself.


def _times(snapshots: Sequence[SnapshotInfo]) -> list[str]:
    return [exact_time(s.taken_at) for s in snapshots]


def _described(snapshots: Sequence[SnapshotInfo]) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "taken_at": exact_time(s.taken_at), "trigger": s.trigger} for s in snapshots
    ]


def _file_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _latest(state: State) -> datetime | None:
    return max((s.taken_at for s in state.snapshots), default=None)


def _as_of_note(asked: datetime, state: State) -> HistoryNote:
    latest = _latest(state)
    assert latest is not None
    used = ", ".join(f"{shown_time(s.taken_at)} ({s.trigger})" for s in state.snapshots)
    return HistoryNote(
        history_url=history_url("html"),
        banner=(f"As of {shown_time(asked)}: this report is as it was read at {used}, not live."),
        header=", ".join(_times(state.snapshots)),
        document={"as_of": exact_time(asked), "snapshots": _described(state.snapshots)},
        file_part=f"as-of-{_file_time(latest)}",
    )


def _side(state: State, now: datetime) -> tuple[str, datetime]:
    """How one end of a period reads, and its time."""
    latest = _latest(state)
    if latest is None:
        return f"a fresh read at {shown_time(now)}", now
    return ", ".join(shown_time(s.taken_at) for s in state.snapshots), latest


def _change_note(query: HistoryQuery, start: State, end: State, now: datetime) -> HistoryNote:
    assert query.since is not None
    begun, begun_at = _side(start, now)
    ended, ended_at = _side(end, now)
    same = start.key == end.key and end.key
    banner = (
        f"Change from {begun} to {ended}: each number is its value then minus its value before "
        "(an ad new in the period counts from zero); ratios are recomputed from the changes."
    )
    if same:
        banner += " No read was recorded in between: nothing changed that the store saw."
    return HistoryNote(
        history_url=history_url("html"),
        banner=banner,
        header=", ".join(_times(start.snapshots) + (_times(end.snapshots) or ["now"])),
        document={
            "since": exact_time(query.since),
            "until": "now" if query.until_now else exact_time(query.until or now),
            "from": _described(start.snapshots),
            "to": _described(end.snapshots),  # none: a fresh read (until=now)
        },
        file_part=f"change-{_file_time(begun_at)}-{_file_time(ended_at)}",
    )


def _compare_note(query: HistoryQuery, current: State, then: State, now: datetime) -> HistoryNote:
    assert query.compare is not None
    then_text, then_at = _side(then, now)
    now_text, now_at = _side(current, now)
    return HistoryNote(
        history_url=history_url("html"),
        banner=(
            f"{'Live' if not current.snapshots else 'As of ' + now_text}, compared with "
            f"{then_text}: “Δ” is the change since, “Δ%” the change over the value then."
        ),
        header=", ".join(_times(then.snapshots) + (_times(current.snapshots) or ["now"])),
        document={
            "compare": exact_time(query.compare),
            "then": _described(then.snapshots),
            "now": _described(current.snapshots),  # none: a fresh read
        },
        file_part=f"{_file_time(now_at)}-vs-{_file_time(then_at)}",
    )


def _series_note(
    query: HistoryQuery, states: list[State], until: datetime, table: Table, sl: Slice
) -> HistoryNote:
    assert query.since is not None and query.grain is not None
    used: dict[int, SnapshotInfo] = {}
    for state in states:
        used.update((s.id, s) for s in state.snapshots)
    snapshots = sorted(used.values(), key=lambda s: (s.taken_at, s.id))
    value = _charted(table, sl)
    return HistoryNote(
        history_url=history_url("html"),
        banner=(
            f"By {query.grain} from {shown_time(query.since)} to "
            f"{'now' if query.until_now else shown_time(until)}: each row is a group's change "
            "in one period (the first and last may be partial); ratios recomputed from the "
            f"changes. {len(snapshots)} snapshot{'s' * (len(snapshots) != 1)} used."
        ),
        header=", ".join(_times(snapshots) + (["now"] if query.until_now else [])),
        document={
            "since": exact_time(query.since),
            "until": "now" if query.until_now else exact_time(until),
            "grain": query.grain,
            "snapshots": _described(snapshots),
        },
        file_part=f"{query.grain}-{_file_time(query.since)}-{_file_time(until)}",
        chart=None if value is None else render_series_svg(table, value),
    )


def _charted(table: Table, sl: Slice) -> str | None:
    """The column a time series chart draws: the ``_sort`` column if it is a number, else
    Spend, else the first number."""
    numbers = [c for c, numeric in zip(table.columns, table.numeric, strict=True) if numeric]
    keys = {label_key(c): c for c in numbers}
    for wanted in (sl.sort, "Spend"):
        if wanted is not None and label_key(wanted) in keys:
            return keys[label_key(wanted)]
    return numbers[0] if numbers else None
