"""The ad table of a report: one row per ad, grouped by (platform, account id), never by name;
ids and tokens never reach a cell.

The table is assembled column-wise (``ingest``): from insight pages as they arrive (the live
read), or from records holding their rows (``ads_table``: the store, tests). The columns come
from the fields alone (``layout``), each typed by all its values (``pieces``, as
``columns.settle_column``).

A report never changes its meaning silently. A number beyond the bounds of ``numbers`` is
refused (502, naming the field and the account). A column that is mostly numbers but holds a
value that is not one is shown as text, as the upstream wrote it, and the table carries a
warning naming the column, the value and the account, which every format shows. Refusing would
cost the reader the whole report for one cell; guessing a locale would invent numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..records import PlatformData
from .collector import gc_paused
from .columnar import Column
from .ingest import AdAssembly, AdColumns, Span
from .spec import ReportSpec
from .summary import Group
from .table import Table


@dataclass(frozen=True)
class Ads:
    """The ad rows of a report, the default groups of its two summaries, and, never rendered,
    each row's identity: its account (``spans``) and its ad's upstream ``id`` (``ad_ids``)."""

    table: Table  # the ad rows (Platform, Account Name, fields...)
    by_account: list[Group]  # /{platform}/resumo: accounts without ads get an empty group
    by_platform: list[Group]  # /geral/resumo
    spans: list[Span]
    ad_ids: Column


def ads_of(assembled: AdColumns, spec: ReportSpec, title: str) -> Ads:
    """The report ``spec``'s ads from its assembled table, with its account and platform
    groups (row ranges)."""
    spans = assembled.spans
    table = Table(
        spec,
        title,
        assembled.columns,
        assembled.numeric,
        assembled.data,
        range(len(assembled)),
        assembled.warnings,
        assembled.digest,
    )
    labels = assembled.platforms
    by_account: list[Group] = [
        ([labels[s.platform], s.account], range(s.start, s.stop)) for s in spans
    ]
    by_platform: list[Group] = []
    for index, label in enumerate(labels):
        mine = [s for s in spans if s.platform == index]
        rows = range(mine[0].start, mine[-1].stop) if mine else range(0)
        by_platform.append(([label, None], rows))
    return Ads(table, by_account, by_platform, spans, assembled.ad_ids)


def ads_table(data: Sequence[PlatformData], spec: ReportSpec, title: str) -> Ads:
    """The ad table of records holding their rows (the report ``spec``), with its groups.

    ``UpstreamBadPayload`` naming the field and the account for a number beyond the bounds.
    """
    assembly = AdAssembly()
    with gc_paused():
        for index, p in enumerate(data):
            accounts = [(a.account.id, a.account.name) for a in p.accounts]
            assembly.platform(index, p.platform, p.fields, accounts)
            for n, account in enumerate(p.accounts):
                ids = account.ad_keys if account.ad_keys is not None else [None] * len(account.rows)
                assembly.add_rows(index, n, account.rows, ids)
        assembled = assembly.finish()
    return ads_of(assembled, spec, title)


__all__ = ["Ads", "ads_of", "ads_table"]
