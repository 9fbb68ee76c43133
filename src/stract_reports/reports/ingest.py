"""The ad table assembled as insight pages arrive, column-wise, and settled once at the end.

Each page is turned into column pieces (``pieces``) the moment it is decoded, and the page
itself can go. Pages arrive in any order; ``AdAssembly.finish`` lays them out in report order
(platforms, then accounts, then pages), settles each column, and computes the per-ad ratios a
platform lacks from the settled components (those are computed as each page arrives whenever
its components are plain numbers). The table keeps, never as a column, each ad's identity: its
account (``Span``) and its upstream ``id``; and a digest of its content, made from each page's
values as it arrives.

Work per cell runs in C; Python runs per page, per column and per distinct text.

An assembly may be bounded: ``max_rows`` ad rows at most (one more is a 502 naming the account
whose page passed them, before that page is laid out), and a ``meter`` told of the bytes each
page will hold (``CELL_BYTES`` a cell, an estimate) before it is laid out, which refuses them by
raising (the server's memory budget, ``memory``): a read that would pass the budget stops at
that page, not after. A ``ReportTooLarge`` from the meter becomes a 502 naming the account.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

from ..errors import ReportTooLarge, UpstreamBadPayload
from ..records import Field, Platform, insights_call
from .columnar import BIG, EMPTY, INT64, POW10, Column, NumberColumn, join_number, split_number
from .layout import Layout, layout
from .metrics import DERIVED_PER_AD, label_key
from .numbers import Number, NumberOutOfRange, parse_number, ratio, shown
from .pieces import (
    Piece,
    SettledColumn,
    digest_piece,
    numbers_of,
    numbers_piece,
    piece,
    settle,
    settle_ids,
)
from .words import TextColumn, Words

ID_KEY = "id"  # the ad's upstream key: never a column, kept as its identity
_RATIO_PLACES = 6  # as numbers.ratio rounds
# Bytes a cell costs a read, estimated: what the ad table holds per cell once settled (about
# 8), and the decoded pages in flight and settling's copies while it is assembled, spread over
# the cells (bench/memory.py measures the resident size against it).
CELL_BYTES = 24
Meter = Callable[[int], object]  # told of bytes a page will hold; raises to refuse them


@dataclass(frozen=True)
class Span:
    """The ad rows ``start``..``stop`` of one account of platform ``platform`` (an index)."""

    platform: int
    account_id: str
    account: str  # its name
    start: int
    stop: int
    digest: bytes = b""  # of its pages' values, in order (the store's unchanged-account test)


@dataclass
class AdColumns:
    """The ad table column-wise: labels, whether each column is numeric, its cells, warnings;
    and, never rendered, each row's identity: its account (``spans``) and its ad's upstream
    ``id`` (``ad_ids``, empty where the row has none)."""

    columns: list[str]
    numeric: list[bool]
    data: list[Column]
    warnings: list[str]
    spans: list[Span]
    ad_ids: Column
    platforms: list[str]  # the platforms' labels, in report order (some may have no ads)
    # Of everything above, computed from the pages' own digests: two reads that gave the same
    # table give the same digest (a strong validator of whatever is rendered from it).
    digest: bytes = b""

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0

    def ad_key(self, row: int) -> str | None:
        """The upstream ``id`` of the ad in ``row``, as text; None when it has none."""
        value = self.ad_ids.cell(row)
        return None if value is None else str(value)


@dataclass
class _Page:
    size: int
    pieces: dict[str, Piece]  # by column key
    ids: Piece
    digest: bytes  # of its values: equal pages, equal digests, whatever arrived first
    # Per-ad ratios the platform lacks, computed as the page arrives from its own numbers
    # (by the ratio's column key); absent where a component is not all numbers.
    derived: dict[str, Piece] = field(default_factory=dict)


@dataclass
class _Platform:
    platform: Platform
    fields: list[Field]
    keys: list[str]  # per field: the key of the column it fills
    derivable: list[tuple[str, str, str]]  # ratios it lacks: (column, numerator, denominator)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (id, name), in order
    pages: dict[tuple[int, int], _Page] = field(default_factory=dict)  # (account, page)


class AdAssembly:
    """An ad table being assembled: ``platform`` once each platform's fields and accounts are
    known (in upstream order), ``add`` for each page of insights as it arrives, ``finish`` once.

    One thread adds pages (the fetch's own loop); nothing here is shared between reports.
    ``max_rows`` and ``meter`` bound it (see the module).
    """

    def __init__(self, *, max_rows: int | None = None, meter: Meter | None = None) -> None:
        self._max_rows = max_rows
        self._meter = meter
        self.rows = 0  # ad rows added so far
        self._known: dict[int, _Platform] = {}
        self._platforms: list[_Platform] = []  # in report order, once finished
        self._words: dict[str, Words] = {}
        self._ids = Words()

    def platform(
        self,
        position: int,
        platform: Platform,
        fields: Sequence[Field],
        accounts: Sequence[tuple[str, str]],
    ) -> None:
        """Register a platform at ``position`` in the report (0, 1, ...: platforms become
        known in any order) with its fields and accounts (id, name, in upstream order); ``add``
        names it by that position."""
        # The columns one platform fills follow from its own fields alone (labels merged,
        # clashes named by key), exactly as the whole layout names them.
        own = layout([list(fields)]).columns[2:]
        keys = [label_key(label) for label in own]
        derivable = [
            (name, r.numerator, r.denominator)
            for name, r in DERIVED_PER_AD.items()
            if name not in keys and r.numerator in keys and r.denominator in keys
        ]
        known = _Platform(platform, list(fields), keys, derivable, list(accounts))
        self._known[position] = known

    def add(self, platform: int, account: int, page: int, items: list[dict[str, Any]]) -> None:
        """One page of an account's insights: objects read by field key (missing: empty)."""
        known = self._known[platform]
        self._admit(known, account, page, len(items))
        keys = [f.key for f in known.fields]
        try:  # every item holding every field and an id (the usual page): a row at a time, in C
            if not keys:
                raise KeyError(ID_KEY)  # one key alone: itemgetter would give no tuples
            rows = list(map(itemgetter(*keys, ID_KEY), items))
        except KeyError:  # some item lacks a key: the value is empty there
            values = [list(map(dict.get, items, repeat(key))) for key in keys]
            self._add(known, account, page, values, list(map(dict.get, items, repeat(ID_KEY))))
            return
        columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * (len(keys) + 1)
        self._add(known, account, page, columns[:-1], columns[-1])

    def add_rows(
        self, platform: int, account: int, rows: Sequence[Sequence[Any]], ids: Sequence[Any]
    ) -> None:
        """An account's rows as values aligned with its platform's fields (``records.Row``),
        and their ads' ids (None where unknown), as one page."""
        known = self._known[platform]
        self._admit(known, account, 0, len(rows))
        values = [list(column) for column in zip(*rows, strict=True)]
        if not values:  # no rows: no column to transpose
            values = [[] for _ in known.fields]
        self._add(known, account, 0, values, list(ids))

    def _admit(self, known: _Platform, account: int, page: int, rows: int) -> None:
        """Count a page's rows and tell the meter what they will hold, before they are laid
        out: past ``max_rows``, or more than the meter lets in alone, a 502 naming the account
        (and the page); the meter's ``Overloaded`` as it is."""
        self.rows += rows
        if self._max_rows is not None and self.rows > self._max_rows:
            raise UpstreamBadPayload(
                _page_call(known, account, page),
                f"the report passes {self._max_rows:,} ad rows here, the most one report reads "
                "(STRACT_MAX_ROWS)",
            )
        if self._meter is not None:
            try:
                self._meter(rows * (len(known.keys) + 1) * CELL_BYTES)
            except ReportTooLarge as exc:
                raise UpstreamBadPayload(_page_call(known, account, page), exc.detail) from None

    def _add(
        self, known: _Platform, account: int, page: int, values: list[list[Any]], ids: list[Any]
    ) -> None:
        size = len(ids)
        pieces: dict[str, Piece] = {}
        for key, column in zip(known.keys, values, strict=True):
            pieces[key] = piece(column, self._words.setdefault(key, Words()))
        derived: dict[str, Piece] = {}
        for name, top, bottom in known.derivable:
            numerators, denominators = numbers_of(pieces[top]), numbers_of(pieces[bottom])
            if numerators is not None and denominators is not None:
                derived[name] = numbers_piece(ratios(numerators, denominators))
        ids_piece = piece(ids, self._ids)
        digest = hashlib.sha256(size.to_bytes(8, "big"))
        for key in known.keys:
            digest_piece(digest, pieces[key], self._words[key])
        digest_piece(digest, ids_piece, self._ids)
        known.pages[(account, page)] = _Page(size, pieces, ids_piece, digest.digest(), derived)

    def finish(self, derived_ratios: bool = True) -> AdColumns:
        """The ad table of every page added, in report order, settled (once: the assembly lets
        its pages go). ``UpstreamBadPayload`` naming the field and the account for a number
        beyond the bounds."""
        self._platforms = [self._known[position] for position in sorted(self._known)]
        plan = layout([p.fields for p in self._platforms])
        spans: list[Span] = []
        order: list[list[_Page]] = []  # per platform: its pages in report order
        total = 0
        for index, p in enumerate(self._platforms):
            mine: list[_Page] = []
            by_account: dict[int, list[tuple[int, _Page]]] = {}
            for (a, n), page in p.pages.items():
                by_account.setdefault(a, []).append((n, page))
            for a, (account_id, name) in enumerate(p.accounts):
                pages = [page for _, page in sorted(by_account.get(a, []), key=itemgetter(0))]
                size = sum(page.size for page in pages)
                account = hashlib.sha256(b"".join(page.digest for page in pages)).digest()
                spans.append(Span(index, account_id, name, total, total + size, account))
                total += size
                mine += pages
            order.append(mine)
        data: list[Column | None] = [
            _leading([p.platform.label for p in self._platforms], spans, lambda s: s.platform),
            _leading([s.account for s in spans], spans, None),
        ]
        numeric = [False, False]
        warnings: list[str] = []
        targets = {d.column for platform in plan.derived for d in platform}
        data += [None] * (len(plan.columns) - 2)
        numeric += [False] * (len(plan.columns) - 2)
        for column in sorted(range(2, len(plan.columns)), key=targets.__contains__):
            key = label_key(plan.columns[column])
            pieces = [
                page.pieces[key] if plan.sources[p][column] is not None else Piece(page.size)
                for p, pages in enumerate(order)
                for page in pages
            ]
            if column in targets and derived_ratios:
                pieces = self._derive(plan, column, order, pieces, data, numeric)
            try:
                settled = settle(pieces, self._words.get(key) or Words())
            except NumberOutOfRange as exc:
                call = self._call(spans, exc.index or 0)
                raise UpstreamBadPayload(call, f"{plan.columns[column]} value {exc}") from None
            data[column] = settled.column
            numeric[column] = settled.numeric
            if settled.stray is not None:
                warnings.append(self._warning(plan.columns[column], settled, spans))
        ids = settle_ids([page.ids for pages in order for page in pages], self._ids)
        # The columns, and which field of each platform fills which (a page digest is of
        # its values in field order).
        shape = [[p.platform.label, [f.key for f in p.fields], p.keys] for p in self._platforms]
        digest = hashlib.sha256(json.dumps([plan.columns, shape]).encode())
        for span in spans:
            digest.update(
                json.dumps([span.platform, span.account_id, span.account, span.stop]).encode()
            )
        for platform_pages in order:
            for each in platform_pages:
                digest.update(each.digest)
        columns: Any = data  # every column settled by now
        labels = [p.platform.label for p in self._platforms]
        # The pages' pieces are in the columns now: let them go before the caller lets the
        # garbage collector run again, which would walk every one of them (thousands of pages
        # of a report of many small accounts) once more.
        for p in self._platforms:
            p.pages.clear()
        self._words.clear()
        return AdColumns(
            plan.columns, numeric, columns, warnings, spans, ids, labels, digest.digest()
        )

    def _derive(
        self,
        plan: Layout,
        column: int,
        order: list[list[_Page]],
        pieces: list[Piece],
        data: list[Column | None],
        numeric: list[bool],
    ) -> list[Piece]:
        """``pieces`` with the ratio computed per ad for the platforms that lack ``column``
        but have its components (from their settled columns)."""
        out: list[Piece] = []
        position = 0
        start = 0
        for p, pages in enumerate(order):
            rows = sum(page.size for page in pages)
            mine = pieces[position : position + len(pages)]
            position += len(pages)
            derived = [d for d in plan.derived[p] if d.column == column]
            ready = [page.derived.get(label_key(plan.columns[column])) for page in pages]
            if derived and all(ready):
                mine = ready  # type: ignore[assignment]
            elif derived:
                d = derived[-1]
                top, bottom = data[d.numerator], data[d.denominator]
                assert top is not None and bottom is not None
                span = range(start, start + rows)
                values = per_ad_ratios(
                    top, numeric[d.numerator], bottom, numeric[d.denominator], span
                )
                mine = [numbers_piece(NumberColumn.of(values))]
            out += mine
            start += rows
        return out

    def _call(self, spans: list[Span], row: int) -> str:
        span = next(s for s in spans if s.start <= row < s.stop)
        return insights_call(self._platforms[span.platform].platform.label, span.account)

    def _warning(self, label: str, settled: SettledColumn, spans: list[Span]) -> str:
        index = settled.stray or 0
        others = settled.strays - 1
        more = f" (and {others} more value{'s' * (others > 1)})" if others else ""
        value = settled.column.cell(index)
        return (
            f"column {label!r} is text, not numbers: {shown(value)}{more} in the "
            f"{self._call(spans, index)} is not a number, so summaries leave it empty"
        )


def _page_call(known: _Platform, account: int, page: int) -> str:
    """The insight call of ``account``'s page ``page`` in words (0 and 1: the account's)."""
    call = insights_call(known.platform.label, known.accounts[account][1])
    return f"{call} (page {page})" if page > 1 else call


def ratios(top: NumberColumn, bottom: NumberColumn) -> NumberColumn:
    """``numbers.ratio`` cell by cell (rounded half-even to 6 places, trailing zeros dropped;
    empty where either is empty or the bottom is 0), in integers: exactly ``ratio``'s value
    and printed form, for any numbers within the bounds."""
    top._ready()
    bottom._ready()
    out = NumberColumn()
    digits, scales, big = out.digits, out.scales, out.big
    cells = zip(top.digits, top.scales, bottom.digits, bottom.scales, strict=True)
    for row, (n, sn, d, sd) in enumerate(cells):
        if sn < 0 or sd < 0 or d == 0:
            if sn == BIG or sd == BIG:
                value = ratio(top.cell(row), bottom.cell(row))
                split = None if value is None else split_number(value)
                if split is not None:
                    digits.append(split[0])
                    scales.append(split[1])
                    continue
                if value is not None:
                    big[row] = value
                digits.append(0)
                scales.append(EMPTY if value is None else BIG)
                continue
            digits.append(0)
            scales.append(EMPTY)
            continue
        numerator, denominator = n * POW10[sd + _RATIO_PLACES], d * POW10[sn]
        if denominator < 0:
            numerator, denominator = -numerator, -denominator
        quotient, remainder = divmod(numerator, denominator)  # floor: remainder >= 0
        twice = 2 * remainder
        if twice > denominator or (twice == denominator and quotient & 1):
            quotient += 1
        scale = _RATIO_PLACES
        if not quotient:
            scale = 0
        while scale and not quotient % 10:
            quotient //= 10
            scale -= 1
        if -INT64 <= quotient < INT64:
            digits.append(quotient)
            scales.append(scale)
        else:
            big[row] = join_number(quotient, scale)
            digits.append(0)
            scales.append(BIG)
    return out


def per_ad_ratios(
    top: Column, top_numeric: bool, bottom: Column, bottom_numeric: bool, rows: range
) -> list[Number | None]:
    """``numbers.ratio`` of two columns' cells, row by row (text cells parsed as numbers)."""
    numerators: list[Any] = top.cells(rows)
    denominators: list[Any] = bottom.cells(rows)
    if not top_numeric:
        numerators = list(map(parse_number, numerators))
    if not bottom_numeric:
        denominators = list(map(parse_number, denominators))
    return list(map(ratio, numerators, denominators))


def _leading(
    labels: list[str], spans: list[Span], index: Callable[[Span], int] | None
) -> TextColumn:
    """Platform or Account Name: one text per span (by ``index``, or the span's own), kept as
    it is (an empty name stays "", as in the row tables)."""
    values: list[str | None] = [None, *dict.fromkeys(labels)]
    code_of = {text: code for code, text in enumerate(values) if code}
    out = array("I")
    for n, span in enumerate(spans):
        code = code_of[labels[index(span) if index is not None else n]]
        out += array("I", [code]) * (span.stop - span.start)
    return TextColumn(out, values)


__all__ = ["CELL_BYTES", "ID_KEY", "AdAssembly", "Meter", "AdColumns", "Span", "ratios"]
