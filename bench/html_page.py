"""The first HTML page of a 300,000-row /geral, and the other renderers, measured on the pure
layers (slicing and rendering) so the upstream fetch does not blur them. Prints one line each.

    .venv/bin/python bench/html_page.py [ACCOUNTS ADS]    # default 1000 100: 3 x 100,000 ads
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stract_reports.render.csv import render_csv
from stract_reports.render.html import HTML_PAGE_SIZE, render_html
from stract_reports.render.xlsx import render_xlsx
from stract_reports.reports.build import ads_table
from stract_reports.reports.slicing import Summary, parse_slice, slice_report
from stract_reports.simulator import synthetic_dataset
from stract_reports.upstream.models import Account, AccountData, Field, Platform, PlatformData


def fetched(accounts: int, ads: int) -> list[PlatformData]:
    """What a report would fetch of the synthetic dataset, built without HTTP."""
    out = []
    for p in synthetic_dataset(accounts, ads).platforms:
        keys = [f["value"] for f in p.fields]
        rows = [
            AccountData(
                Account(a.id, a.name, a.token),
                [tuple(r.get(k) for k in keys) for r in p.insight_rows(a)],
            )
            for a in p.accounts
        ]
        fields = [Field(f["value"], f["text"]) for f in p.fields]
        out.append(PlatformData(Platform(p.value, p.text), fields, rows))
    return out


def timed(what: str, run: Callable[[], Any], repeat: int = 3) -> Any:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    size = f", {len(result) / 1024:,.0f} KiB" if isinstance(result, str | bytes) else ""
    print(f"{what}: {best * 1000:,.0f} ms{size}")
    return result


def main() -> None:
    accounts, ads_per = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (1000, 100)
    data = fetched(accounts, ads_per)
    ads = timed(
        "ads table (build, not this work)",
        lambda: ads_table(data, "geral", "All platforms: ads"),
        1,
    )
    print(f"rows: {len(ads.table.rows):,}")
    now = datetime.now(UTC)

    def page(query: list[tuple[str, str]], summary: Summary | None = None) -> str:
        table, info = slice_report(
            ads,
            parse_slice(query),
            summary=summary,
            page_size=HTML_PAGE_SIZE,
            totals=summary is None,
        )
        return render_html(table, now, query=query, page=info)

    timed("/geral.html first page (slice + totals + render)", lambda: page([]))
    timed("/geral.html?_sort_desc=Spend", lambda: page([("_sort_desc", "Spend")]))
    timed(
        "/geral.html?Country=BR&_sort=Ad Name",
        lambda: page([("Country", "BR"), ("_sort", "Ad Name")]),
    )
    general = Summary("geral/resumo", "All platforms", ads.by_platform)
    timed("/geral/resumo.html?_by=Country", lambda: page([("_by", "Country")], general))
    timed("/geral.csv (all rows)", lambda: render_csv(ads.table), 1)
    # Peak RSS, not tracemalloc: tracing every allocation would slow the writer tenfold.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timed("/geral.xlsx (all rows)", lambda: render_xlsx(ads.table), 1)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"xlsx: peak RSS grew {grown:,.0f} MiB (the workbook's own bytes included)")


if __name__ == "__main__":
    main()
