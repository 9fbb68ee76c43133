"""Work with a time limit: drawing an answer counts against the report's deadline, so a large
workbook is a 504 on time rather than a minute of a thread nobody waits for."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask

from hostile import Call, HostileUpstream, Reply, json_reply
from stract_reports.errors import DeadlineExceeded
from stract_reports.pipeline import Source, slice_source
from stract_reports.records import AccountData, PlatformData
from stract_reports.renderers import Rendering, plan_rendering, render
from stract_reports.reports.slicing import report_source
from stract_reports.reports.spec import ReportSpec
from stract_reports.reports.table import Table
from stract_reports.simulator import synthetic_dataset
from support import serving
from tables import real_data

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _times(data: Sequence[PlatformData], k: int) -> list[PlatformData]:
    """``data`` with every account's ads repeated ``k`` times."""
    return [
        PlatformData(p.platform, p.fields, [AccountData(a.account, a.rows * k) for a in p.accounts])
        for p in data
    ]


def _table(k: int) -> Table:
    return slice_source(Source(*report_source(_times(real_data(), k), ReportSpec(None))))[0]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "ndjson", "tsv", "html"])
def test_a_deadline_passed_before_drawing_is_a_504_naming_the_format(fmt: str) -> None:
    table = _table(1)
    rendering = plan_rendering(table, fmt, NOW, deadline=time.monotonic() - 0.001)

    with pytest.raises(DeadlineExceeded) as caught:
        render(table, fmt, rendering)

    assert caught.value.status == 504
    assert caught.value.detail.startswith(f"the report as {fmt.upper()}: the report deadline")


def _drafts() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("stract-xlsx-*"))


def test_a_workbook_stops_being_drawn_when_the_deadline_passes_and_leaves_no_file() -> None:
    table = _table(600)  # 39,600 rows: seconds of XlsxWriter
    before = _drafts()
    started = time.monotonic()

    with pytest.raises(DeadlineExceeded):
        render(table, "xlsx", Rendering(NOW, deadline=started + 0.3))

    assert time.monotonic() - started < 1.0  # checked every CHECK_ROWS rows, not at the end
    assert _drafts() <= before  # the rows written so far are not left on disk


def test_with_time_left_the_answer_is_the_same_bytes() -> None:
    table = _table(3)
    free = render(table, "csv", Rendering(NOW))
    timed = render(table, "csv", Rendering(NOW, deadline=time.monotonic() + 60))

    assert timed == free


def test_a_workbook_past_the_report_deadline_is_a_504_on_time(
    make_hostile: Callable[..., HostileUpstream], make_app: Callable[..., Flask]
) -> None:
    # The reads take 2.5 s of a 4 s deadline (one account answers late); the 40,000-row
    # workbook would take seconds more: it is cut when the deadline passes.
    def late(call: Call) -> Reply | None:
        if call.endpoint == "insights" and call.query["account"] == "1":
            reply = json_reply(call.honest)
            reply.delay = 2.5
            return reply
        return None

    upstream = make_hostile(late, dataset=synthetic_dataset(20, 667))
    with serving(make_app(upstream, deadline=4.0, timeout=5.0)) as base:
        started = time.monotonic()
        answer = requests.get(f"{base}/geral.xlsx", timeout=60)
        took = time.monotonic() - started

    assert answer.status_code == 504
    assert answer.json()["detail"].startswith("the report as XLSX: the report deadline")
    assert took < 4.0 + 1.0
