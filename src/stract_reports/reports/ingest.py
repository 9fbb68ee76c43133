"""The ad table assembled as insight pages arrive, column-wise, and settled once at the end.

A page is turned into column pieces the moment it is decoded, and the page itself can go: JSON
numbers become a ``NumberColumn`` piece (checked against the bounds in bulk), strings become
codes of the column's ``Words`` (each distinct text once, shared by every page of the column),
anything else stays as it came (rare: booleans, objects, a column mixing kinds). Pages arrive
in any order; ``AdAssembly.finish`` lays them out in report order (platforms, then accounts,
then pages) and settles each column exactly as ``build.settle_column`` would settle its values:
numeric when every non-empty value is a number, numeric strings parsed, a mostly numeric column
with a few texts kept as text with a warning, and a number beyond the bounds refused (502 naming
the field and the account). Per-ad ratios a platform lacks (Google Analytics' Cost per Click)
are computed from the settled components, as ``build`` does.

Work per cell runs in C; Python runs per page, per column and per distinct text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress, count, repeat
from typing import Any

from ..errors import UpstreamBadPayload
from ..records import Field, Platform
from .build import Layout, insights_call, layout, settle_column
from .columnar import (
    EMPTY,
    Column,
    NumberColumn,
    TextColumn,
    Words,
    exact,
    ratios,
    split_number,
)
from .metrics import DERIVED_PER_AD, label_key
from .numbers import (
    Number,
    NumberOutOfRange,
    check_numbers,
    looks_numeric,
    parse_number,
    ratio,
    shown,
)

_NONE = type(None)
_NUMBERS = frozenset({int, Decimal, bytes, _NONE})
_TEXTS = frozenset({str, _NONE})
ID_KEY = "id"  # the ad's upstream key: never a column, kept as its identity


@dataclass
class Piece:
    """One column's values of one page: numbers, codes of the column's words, values as they
    came, or nothing (``size`` empty cells)."""

    size: int
    numbers: NumberColumn | None = None
    codes: array[int] | None = None
    raw: list[Any] | None = None
    error: NumberOutOfRange | None = None  # a number beyond the bounds, at its index here

    @property
    def kind(self) -> str:
        """ "numbers", "words", "raw" or "empty"."""
        if self.numbers is not None or self.error is not None:
            return "numbers"
        if self.codes is not None:
            return "words"
        return "raw" if self.raw is not None else "empty"


def piece(values: list[Any], words: Words) -> Piece:
    """``values`` (one column of a page) as a piece; strings become codes of ``words``; float
    literals may come as bytes (``upstream.decode``'s ``float_literals``)."""
    kinds = set(map(type, values))
    if kinds <= {_NONE}:
        return Piece(len(values))
    if kinds <= _NUMBERS:
        numbers = NumberColumn.converted(values)  # within the bounds when converted
        if numbers is None:
            if bytes in kinds:
                values = list(map(exact, values))
            try:
                check_numbers(values)
            except NumberOutOfRange as exc:
                return Piece(len(values), error=exc)
            numbers = NumberColumn.of(values)
        return Piece(len(values), numbers=numbers)
    if kinds <= _TEXTS:
        return Piece(len(values), codes=words.encode(values))
    return Piece(len(values), raw=list(map(exact, values)))


@dataclass
class Settled:
    """A column's cells as the report shows them, whether they are numbers, and (for a mostly
    numeric column that is text) its first text value's row and how many there are."""

    column: Column
    numeric: bool
    stray: int | None = None
    strays: int = 0


def settle(pieces: Sequence[Piece], words: Words) -> Settled:
    """The column made of ``pieces`` in order, settled as ``build.settle_column`` settles the
    same values. ``NumberOutOfRange`` (``index``: the row) for a number beyond the bounds."""
    size = sum(p.size for p in pieces)
    kinds = {p.kind for p in pieces} - {"empty"}
    if not kinds:
        return Settled(TextColumn.repeated(None, size), numeric=False)
    if kinds == {"numbers"}:
        offset = 0
        for p in pieces:
            if p.error is not None:
                p.error.index = offset + (p.error.index or 0)
                raise p.error
            offset += p.size
        column = NumberColumn()
        for p in pieces:
            column.extend_column(p.numbers if p.numbers is not None else NumberColumn.empty(p.size))
        if column.scales.count(EMPTY) == size:  # no number at all (derived ratios may be none)
            return Settled(TextColumn.repeated(None, size), numeric=False)
        return Settled(column, numeric=True)
    if kinds == {"words"}:
        codes = array("I")
        for p in pieces:
            codes += p.codes if p.codes is not None else array("I", bytes(4 * p.size))
        return _settle_words(codes, words)
    return _settle_values(_values(pieces, words))


def _settle_words(codes: array[int], words: Words) -> Settled:
    """A column of strings: text, unless its distinct texts are numbers (each looked at once)."""
    numeric = [code for code, text in enumerate(words.values) if text and looks_numeric(text)]
    if not numeric:
        return Settled(TextColumn(codes, words.values), numeric=False)
    parsed: dict[int, Number] = {}
    for code in numeric:
        try:
            parsed[code] = parse_number(words.values[code])  # type: ignore[assignment]
        except NumberOutOfRange as exc:
            exc.index = codes.index(code)
            raise
    if len(numeric) == len(words.values) - 1:
        return Settled(_numbers_of_codes(codes, parsed), numeric=True)
    counts = Counter(codes)
    found = sum(counts[code] for code in numeric)
    others = len(codes) - found - counts[0]
    column = TextColumn(codes, words.values)
    if found <= others:
        return Settled(column, numeric=False)
    numbers = set(numeric) | {0}
    stray = next(i for i, code in enumerate(codes) if code not in numbers)
    return Settled(column, False, stray, others)


def _numbers_of_codes(codes: array[int], parsed: dict[int, Number]) -> NumberColumn:
    """The numbers the codes stand for (code 0: empty), looked up per cell in C."""
    top = max(parsed) + 1
    digits, scales = [0] * top, [EMPTY] * top
    big: dict[int, Number] = {}
    for code, value in parsed.items():
        split = split_number(value)
        if split is None:
            big[code] = value
            scales[code] = -2
        else:
            digits[code], scales[code] = split
    column = NumberColumn(
        array("q", map(digits.__getitem__, codes)), array("b", map(scales.__getitem__, codes))
    )
    for code, value in big.items():
        for row in compress(count(), map(int(code).__eq__, codes)):
            column.big[row] = value
    return column


def _values(pieces: Sequence[Piece], words: Words) -> list[Any]:
    """Every value of the pieces as a Python value (the slow, general way)."""
    values: list[Any] = []
    offset = 0
    for p in pieces:
        if p.error is not None:
            p.error.index = offset + (p.error.index or 0)
            raise p.error
        if p.numbers is not None:
            values += p.numbers.cells(range(p.size))
        elif p.codes is not None:
            values += map(words.values.__getitem__, p.codes)
        elif p.raw is not None:
            values += p.raw
        else:
            values += repeat(None, p.size)
        offset += p.size
    return values


def _settle_values(values: list[Any]) -> Settled:
    settled = settle_column(values)
    cells: Any = settled.cells
    column: Column = NumberColumn.of(cells) if settled.numeric else TextColumn.of(cells)
    return Settled(column, settled.numeric, settled.stray, settled.strays)


# --- the ad table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The ad rows ``start``..``stop`` of one account of platform ``platform`` (an index)."""

    platform: int
    account_id: str
    account: str  # its name
    start: int
    stop: int


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
    """

    def __init__(self) -> None:
        self._platforms: list[_Platform] = []
        self._words: dict[str, Words] = {}
        self._ids = Words()
        self._lock = threading.Lock()

    def platform(
        self, platform: Platform, fields: Sequence[Field], accounts: Sequence[tuple[str, str]]
    ) -> int:
        """Register a platform (in report order) with its fields and accounts (id, name, in
        upstream order); its index, for ``add``."""
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
        self._platforms.append(known)
        return len(self._platforms) - 1

    def add(self, platform: int, account: int, page: int, items: list[dict[str, Any]]) -> None:
        """One page of an account's insights: objects read by field key (missing: empty)."""
        known = self._platforms[platform]
        values = [list(map(dict.get, items, repeat(f.key))) for f in known.fields]
        self._add(known, account, page, values, list(map(dict.get, items, repeat(ID_KEY))))

    def add_rows(
        self, platform: int, account: int, rows: Sequence[Sequence[Any]], ids: Sequence[Any]
    ) -> None:
        """An account's rows as values aligned with its platform's fields (``records.Row``),
        and their ads' ids (None where unknown), as one page."""
        known = self._platforms[platform]
        values = [list(column) for column in zip(*rows, strict=True)]
        if not values:  # no rows: no column to transpose
            values = [[] for _ in known.fields]
        self._add(known, account, 0, values, list(ids))

    def _add(
        self, known: _Platform, account: int, page: int, values: list[list[Any]], ids: list[Any]
    ) -> None:
        size = len(ids)
        pieces: dict[str, Piece] = {}
        for key, column in zip(known.keys, values, strict=True):
            pieces[key] = piece(column, self._words.setdefault(key, Words()))
        derived: dict[str, Piece] = {}
        for name, top, bottom in known.derivable:
            numerators, denominators = _numbers(pieces[top]), _numbers(pieces[bottom])
            if numerators is not None and denominators is not None:
                derived[name] = Piece(size, numbers=ratios(numerators, denominators))
        ids_piece = piece(ids, self._ids)
        digest = hashlib.sha256(size.to_bytes(8, "big"))
        for key in known.keys:
            _digest(digest, pieces[key], self._words[key])
        _digest(digest, ids_piece, self._ids)
        known.pages[(account, page)] = _Page(size, pieces, ids_piece, digest.digest(), derived)

    def finish(self, derived_ratios: bool = True) -> AdColumns:
        """The ad table of every page added, in report order, settled. ``UpstreamBadPayload``
        naming the field and the account for a number beyond the bounds."""
        plan = layout([p.fields for p in self._platforms])
        spans: list[Span] = []
        order: list[list[_Page]] = []  # per platform: its pages in report order
        total = 0
        for index, p in enumerate(self._platforms):
            mine: list[_Page] = []
            for a, (account_id, name) in enumerate(p.accounts):
                pages = sorted((n, page) for (acc, n), page in p.pages.items() if acc == a)
                size = sum(page.size for _, page in pages)
                spans.append(Span(index, account_id, name, total, total + size))
                total += size
                mine += [page for _, page in pages]
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
        digest = hashlib.sha256(
            json.dumps([plan.columns, [p.platform.label for p in self._platforms]]).encode()
        )
        for span in spans:
            digest.update(
                json.dumps([span.platform, span.account_id, span.account, span.stop]).encode()
            )
        for platform_pages in order:
            for each in platform_pages:
                digest.update(each.digest)
        columns: Any = data  # every column settled by now
        return AdColumns(plan.columns, numeric, columns, warnings, spans, ids, digest.digest())

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
                mine = [Piece(rows, numbers=NumberColumn.of(values))]
            out += mine
            start += rows
        return out

    def _call(self, spans: list[Span], row: int) -> str:
        span = next(s for s in spans if s.start <= row < s.stop)
        return insights_call(self._platforms[span.platform].platform.label, span.account)

    def _warning(self, label: str, settled: Settled, spans: list[Span]) -> str:
        index = settled.stray or 0
        others = settled.strays - 1
        more = f" (and {others} more value{'s' * (others > 1)})" if others else ""
        value = settled.column.cell(index)
        return (
            f"column {label!r} is text, not numbers: {shown(value)}{more} in the "
            f"{self._call(spans, index)} is not a number, so summaries leave it empty"
        )


def _digest(digest: Any, p: Piece, words: Words) -> None:
    """Add a piece's values to ``digest``, independently of the codes other pages gave their
    texts first: text by its own first appearance in the piece."""
    if p.numbers is not None:
        column = p.numbers
        digest.update(b"N%d:" % len(column))
        digest.update(column.digits.tobytes())
        digest.update(column.scales.tobytes())
        digest.update(repr(sorted(column.big.items())).encode())
    elif p.codes is not None:
        order = dict.fromkeys(p.codes)
        local = {code: index for index, code in enumerate(order)}
        digest.update(b"W%d:" % len(p.codes))
        digest.update(array("I", map(local.__getitem__, p.codes)).tobytes())
        digest.update(json.dumps([words.values[code] for code in order]).encode())
    elif p.raw is not None:
        digest.update(b"R" + repr(p.raw).encode())
    else:
        digest.update(b"E%d:" % p.size)


def _numbers(p: Piece) -> NumberColumn | None:
    """A piece's cells as numbers, if it holds only numbers (or nothing)."""
    if p.kind == "empty":
        return NumberColumn.empty(p.size)
    return p.numbers


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


def settle_ids(pieces: Sequence[Piece], words: Words) -> Column:
    """The ads' ``id`` values: numbers kept as numbers, text as text, mixed as text."""
    kinds = {p.kind for p in pieces} - {"empty"}
    if kinds == {"numbers"} and not any(p.error for p in pieces):
        column = NumberColumn()
        for p in pieces:
            column.extend_column(p.numbers if p.numbers is not None else NumberColumn.empty(p.size))
        return column
    if kinds <= {"words"}:
        codes = array("I")
        for p in pieces:
            codes += p.codes if p.codes is not None else array("I", bytes(4 * p.size))
        return TextColumn(codes, words.values)
    texts: list[str | None] = []
    for p in pieces:
        if p.numbers is not None:
            texts += [None if v is None else str(v) for v in p.numbers.cells(range(p.size))]
        elif p.codes is not None:
            texts += map(words.values.__getitem__, p.codes)
        elif p.raw is not None:
            texts += [None if v is None else str(v) for v in p.raw]
        else:
            texts += repeat(None, p.size)
    return TextColumn.of(texts)


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


__all__ = ["AdAssembly", "AdColumns", "Piece", "Settled", "Span", "piece", "settle"]
