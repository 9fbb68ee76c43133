"""A live read as the store records it. A report's read keeps no rows: its insight pages became
the columns of its ad table as they arrived (``reports.ingest``). So a read is handed to the
store as its records (platforms, fields, accounts), each account's digest and ad count (from
its span in the table: ``Span.digest``, made from its pages' values), and a way to fill in the
rows of the accounts that changed, taken from the table's columns in the recorder's thread,
after the answer (``fill_rows``). An account the store holds already costs no row at all.

The rows are each field's settled cell, in the platform's field order, with the ad's upstream
id: laid out again by ``reports.ads.ads_table`` they give back the same table, byte for byte
in every format (the as_of tests hold it to that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from .records import AccountData, PlatformData, Read, Row
from .reports.columnar import Column
from .reports.ingest import AdColumns
from .reports.layout import layout
from .store import Recorder, SnapshotInfo, Store
from .store.changes import Omitted


def records_of(read: Read, assembled: AdColumns) -> tuple[list[PlatformData], Omitted]:
    """The read's records with each account's digest and no rows, and each account's count
    of ads (by platform value and account id)."""
    spans = iter(assembled.spans)
    data: list[PlatformData] = []
    counts: dict[tuple[str, str], int] = {}
    for platform in read.data:
        accounts = []
        for account in platform.accounts:
            span = next(spans)
            counts[(platform.platform.value, account.account.id)] = span.stop - span.start
            accounts.append(AccountData(account.account, [], None, span.digest))
        data.append(PlatformData(platform.platform, platform.fields, accounts))
    return data, counts


def fill_rows(assembled: AdColumns, data: Sequence[PlatformData], omitted: Omitted) -> None:
    """Fill in the rows and ad keys of every account of ``data`` not ``omitted``, from the
    ad table's columns: each field's cells in field order."""
    plan = layout([p.fields for p in data])
    spans = iter(assembled.spans)
    for index, platform in enumerate(data):
        # Which column each field of this platform fills.
        sources = plan.sources[index]
        column_of = {field: column for column, field in enumerate(sources) if field is not None}
        value = platform.platform.value
        for account in platform.accounts:
            span = next(spans)
            if (value, account.account.id) in omitted:
                continue
            rows = range(span.start, span.stop)
            columns = [assembled.data[column_of[f]] for f in range(len(platform.fields))]
            account.rows = ColumnRows(columns, rows)
            ids = assembled.ad_ids.cells(rows)
            account.ad_keys = None if None in ids else [str(i) for i in ids]


class ColumnRows(Sequence[Row]):
    """An account's rows as a sequence made from the table's columns when read: the store
    encodes one account at a time, so a large changed read is never held as rows whole."""

    def __init__(self, columns: Sequence[Column], rows: range) -> None:
        self._columns = columns
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        if not self._columns:
            return iter([()] * len(self._rows))
        return zip(*(column.cells(self._rows) for column in self._columns), strict=True)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            return ColumnRows(self._columns, self._rows[index])
        row = self._rows[index]
        return tuple(column.cell(row) for column in self._columns)


def hand_over(recorder: Recorder, read: Read, assembled: AdColumns, trigger: str) -> None:
    """Give the recorder ``read`` (never blocks, never raises): unchanged accounts as their
    digests alone, the rows of the others filled in by its writer thread."""

    def fill(records: Sequence[PlatformData], omitted: Omitted) -> None:
        fill_rows(assembled, records, omitted)

    data, counts = records_of(read, assembled)
    recorder.submit(read.platforms, data, at=read.at, trigger=trigger, counts=counts, fill=fill)


def record_now(store: Store, read: Read, assembled: AdColumns, trigger: str) -> SnapshotInfo:
    """Record ``read`` at once (``stract-reports record``): the accounts this process knows
    unchanged as their digests, every other row filled in first."""
    data, counts = records_of(read, assembled)
    slim, omitted = store.snapshots.slim(data, counts)
    fill_rows(assembled, slim, omitted)
    return store.snapshots.record(
        read.platforms, slim, at=read.at, trigger=trigger, omitted=omitted
    )
