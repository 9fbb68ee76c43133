"""Memory bounded per process: the budget (``STRACT_MEMORY_BUDGET``) over builds, slices and
answers in flight, 503 with Retry-After past it; rows per report capped (``STRACT_MAX_ROWS``,
a 502 naming the account); memory given back to the system after a large or failed read.

The budget's own rules with real threads and a real build gate; the app over loopback HTTP
against the simulator and ``tests/hostile.py``; and a real ``serve`` process whose resident
size is read from /proc.
"""

from __future__ import annotations

import gc
import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from hostile import Call, HostileUpstream, Reply, json_reply
from served import serve
from stract_reports.config import Settings
from stract_reports.errors import Overloaded, ReportTooLarge
from stract_reports.extensions import app_budget, app_gate
from stract_reports.gate import BuildGate
from stract_reports.memory import MB, RETRY_AFTER, MemoryBudget, give_back, size
from stract_reports.records import insights_call
from stract_reports.reports.ingest import CELL_BYTES
from stract_reports.setting_values import SettingsError
from stract_reports.simulator import Simulator, synthetic_dataset

KB = 1024


# -- the budget's rules ---------------------------------------------------------------------


def test_charges_add_up_to_the_limit_and_one_more_byte_is_overloaded() -> None:
    budget = MemoryBudget(100 * KB)
    first, second = budget.charge("the report /geral"), budget.charge("the answer /geral.csv")
    first.grow(60 * KB)
    second.grow(40 * KB)

    with pytest.raises(Overloaded) as refused:
        second.grow(1)

    assert refused.value.status == 503
    assert refused.value.retry_after == RETRY_AFTER
    assert refused.value.detail == (
        "this server holds 100 KB of reports, and the answer /geral.csv needs 1 KB more than "
        "the 100 KB it holds at once (STRACT_MEMORY_BUDGET); try again in a moment"
    )
    assert (budget.used, second.nbytes) == (100 * KB, 40 * KB)  # nothing counted for it
    first.close()
    second.grow(1)
    assert budget.used == 40 * KB + 1
    second.close()
    second.close()  # once: a second close gives nothing back again
    assert budget.used == 0
    assert budget.peak == 100 * KB


def test_a_charge_larger_than_the_whole_budget_is_too_large_not_overloaded() -> None:
    budget = MemoryBudget(32 * MB)
    charge = budget.charge("the answer /geral.xlsx")
    charge.grow(20 * MB)

    with pytest.raises(ReportTooLarge) as refused:
        charge.grow(13 * MB)

    assert refused.value.status == 502
    assert refused.value.detail == (
        "the answer /geral.xlsx needs more than the 32 MB this server holds for all its "
        "reports at once (STRACT_MEMORY_BUDGET)"
    )
    assert budget.used == 20 * MB


def test_a_tied_charge_ends_when_its_object_is_gone() -> None:
    class Source:
        """Stands for a build's source: any object that takes weak references."""

    budget = MemoryBudget(MB)
    charge, source = budget.charge("the report /geral"), Source()
    charge.grow(KB)
    charge.tie(source)
    assert budget.used == KB

    del source
    gc.collect()

    assert budget.used == 0 and charge.closed


def test_before_refusing_the_budget_lets_the_gate_drop_finished_builds() -> None:
    """A finished build the gate keeps for late requests holds memory nobody reads: a charge
    that needs it gets it (the same rule create_app sets up)."""

    class Source:
        pass

    budget, gate = MemoryBudget(100 * KB), BuildGate(max_builds=2)
    budget.reclaim = gate.drop_finished

    def build() -> Source:
        source, charge = Source(), budget.charge("the report /geral")
        charge.grow(80 * KB)
        charge.tie(source)
        return source

    gate.get("geral", time.monotonic(), build)  # finished, kept for late requests
    assert budget.used == 80 * KB

    other = budget.charge("the report /ga4")
    other.grow(50 * KB)

    assert budget.used == 50 * KB


def test_charges_from_many_threads_never_pass_the_limit() -> None:
    budget, refused = MemoryBudget(64 * KB), []
    barrier = threading.Barrier(16)

    def work(_: int) -> None:
        charge = budget.charge("an answer")
        barrier.wait(5)
        for _ in range(8):  # 16 × 8 KB wanted, 64 KB to share
            try:
                charge.grow(KB)
            except Overloaded:
                refused.append(1)
            assert budget.used <= budget.limit
        barrier.wait(5)  # every charge grown before any ends
        charge.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))

    assert budget.peak == 64 * KB
    assert len(refused) == 16 * 8 - 64
    assert budget.used == 0


@pytest.mark.parametrize(
    ("nbytes", "words"),
    [(1, "1 KB"), (1536, "2 KB"), (1023 * KB, "1,023 KB"), (MB + MB // 2, "1.5 MB"),
     (320 * MB, "320 MB"), (1 << 40, "1,048,576 MB")],
)  # fmt: skip
def test_sizes_read_as_words(nbytes: int, words: str) -> None:
    assert size(nbytes) == words


def test_memory_is_given_back_to_the_system_here() -> None:
    assert give_back() is True  # glibc: malloc_trim was found and called


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STRACT_MEMORY_BUDGET", "1000", "STRACT_MEMORY_BUDGET (--memory-budget) must be at least "
         "1048576 and at most 1099511627776, not 1000"),
        ("STRACT_MAX_ROWS", "0", "STRACT_MAX_ROWS (--max-rows) must be at least 1 and at most "
         "1000000000, not 0"),
    ],
)  # fmt: skip
def test_budget_and_row_cap_out_of_range_stop_at_start(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value) == message


# -- the cap on rows ------------------------------------------------------------------------


def test_a_report_past_max_rows_is_a_502_naming_the_account(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    dataset = synthetic_dataset(1, 5)
    sim = make_simulator(dataset)
    meta = dataset.platforms[0]
    app = make_app(sim, max_rows=4)

    response = app.test_client().get(f"/{meta.value}.csv")

    call = insights_call(meta.text, meta.accounts[0].name)
    assert response.status_code == 502
    assert response.get_json() == {
        "error": "invalid upstream payload",
        "detail": f"{call}: the report passes 4 ad rows here, the most one report reads "
        "(STRACT_MAX_ROWS)",
        "status": 502,
    }
    assert app_budget(app).used == 0  # the failed build let its charge go
    assert make_app(sim, max_rows=5).test_client().get(f"/{meta.value}.csv").status_code == 200


# -- the budget in the app ------------------------------------------------------------------
# Through the test client, each answer closed by the test: its charge ends then, exactly.


@pytest.fixture
def synthetic(make_simulator: Callable[..., Simulator]) -> Simulator:
    """3 platforms × 4 accounts × 250 ads: 3,000 rows, about 1 MB of build charge."""
    return make_simulator(synthetic_dataset(4, 250))


def _get(app: Flask, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` and read the whole answer: its status, headers and body."""
    with app.test_client().get(path) as response:
        return response.status_code, dict(response.headers), response.get_data()


def _idle(app: Flask) -> int:
    """What the budget counts once every answer is sent and no build is kept."""
    app_gate(app).drop_finished()
    gc.collect()
    return app_budget(app).used


def test_a_build_past_the_budget_is_503_with_retry_after_and_then_answers(
    synthetic: Simulator, make_app: Callable[..., Flask]
) -> None:
    app = make_app(synthetic)
    budget = app_budget(app)
    hold = budget.charge("the other reports")  # what other requests hold meanwhile
    hold.grow(budget.limit - 64 * KB)

    status, headers, body = _get(app, "/geral.csv")
    assert status == 503
    assert headers["Retry-After"] == "5"
    document = json.loads(body)
    assert document["error"] == "too many reports at once"
    assert re.fullmatch(
        r"this server holds 320 MB of reports, and the report /geral needs \d+ KB more "
        r"than the 320 MB it holds at once \(STRACT_MEMORY_BUDGET\); try again in a moment",
        document["detail"],
    ), document["detail"]
    assert budget.used == hold.nbytes  # the refused build and answer hold nothing
    assert _get(app, "/healthz")[0] == 200

    hold.close()
    status, _, body = _get(app, "/geral.csv")
    assert status == 200
    assert body.count(b"\r\n") == 3001  # the header and every row
    assert _idle(app) == 0


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/geral.xlsx", "the answer /geral.xlsx"),  # the drawing of a workbook
        ("/geral.json?_sort=Spend", "the answer /geral.json"),  # the slice a sort cuts
        ("/geral.csv?Clicks__gte=0", "the answer /geral.csv"),  # a filter's slice
    ],
)
def test_an_answer_past_the_budget_is_503_after_its_build(
    synthetic: Simulator, make_app: Callable[..., Flask], path: str, what: str
) -> None:
    """The build fits (the finished one kept for late requests is let go for it), what the
    answer draws or cuts does not: 503."""
    app = make_app(synthetic)
    budget = app_budget(app)
    assert _get(app, "/geral.ndjson")[0] == 200
    built = budget.used  # the build, kept for late requests; the answer is done
    hold = budget.charge("the other reports")
    hold.grow(budget.limit - built - 64)  # room for the build again, not for an answer

    status, headers, body = _get(app, path)
    assert status == 503
    assert headers["Retry-After"] == "5"
    detail = json.loads(body)["detail"]
    assert f", and {what} needs " in detail, detail
    # Nothing stays counted: not the answer, nor the new build (before refusing, the budget let
    # the gate drop it, and the refused answer was its last reader).
    assert budget.used == hold.nbytes

    hold.close()
    assert _get(app, path)[0] == 200
    assert _idle(app) == 0


def test_a_report_larger_than_the_whole_budget_is_a_502_naming_the_account(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    sim = make_simulator(synthetic_dataset(8, 250))  # 6,000 rows: about 1.7 MB
    app = make_app(sim, memory_budget=MB)
    status, _, body = _get(app, "/geral.csv")
    document = json.loads(body)
    assert status == 502
    assert document["error"] == "invalid upstream payload"
    assert re.fullmatch(
        r"insights of [^:]+ account .+: the report /geral needs more than the 1\.0 MB this "
        r"server holds for all its reports at once \(STRACT_MEMORY_BUDGET\)",
        document["detail"],
    ), document["detail"]
    assert _idle(app) == 0


def test_the_charge_of_a_build_is_its_cells_at_the_estimate(
    synthetic: Simulator, make_app: Callable[..., Flask]
) -> None:
    """A build counts CELL_BYTES per cell it reads: rows × (its platform's columns + the id)."""
    app = make_app(synthetic)
    assert _get(app, "/ga4.ndjson")[0] == 200
    ga4 = synthetic.dataset.platforms[1]
    rows = 4 * 250  # its accounts × their ads
    assert app_budget(app).used == rows * (len(ga4.fields) + 1) * CELL_BYTES


# -- a real serve process ---------------------------------------------------------------------


def _rss(pid: int) -> float:
    """A process's resident size now, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match[1]) / 1024


PAGE_ROWS = 2_000
PLAIN = {"Accept-Encoding": "identity"}  # not gzip: the answer's whole size goes out


def _endless_accounts() -> Callable[[Call], Reply | None]:
    """Every account's insights as 10,000 pages of 2,000 ads, each like the account's first
    (an account's first page is asked first: it says how many there are)."""
    firsts: dict[str, dict[str, Any]] = {}

    def tamper(call: Call) -> Reply | None:
        if call.endpoint != "insights":
            return None
        page = int(call.query.get("page", "1"))
        if page == 1:
            firsts[call.query["account"]] = call.honest["insights"][0]
        first = firsts[call.query["account"]]
        items = [{**first, "id": f"{page}-{n}"} for n in range(PAGE_ROWS)]
        return json_reply({"insights": items, "pagination": {"current": page, "total": 10_000}})

    return tamper


def _hwm(pid: int) -> float:
    """A process's peak resident size so far, in MB."""
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match is not None
    return int(match[1]) / 1024


@pytest.mark.serve
def test_serve_caps_a_read_of_endless_pages_at_max_rows_and_does_not_pile_up_memory(
    make_hostile: Callable[..., HostileUpstream],
) -> None:
    """10,000 pages of 2,000 rows for every account (inside STRACT_MAX_PAGES): a 502 naming the
    account at STRACT_MAX_ROWS, a peak bounded by that cap (not gigabytes), and reads failing
    again and again do not add up (what a failed read freed is given back, or reused)."""
    upstream = make_hostile(_endless_accounts())
    with serve(upstream.url, "--max-rows", "200000") as served:
        pid = served.process.pid
        idle = _rss(pid)
        after = []
        for path in ["/meta_ads.csv", "/ga4.csv"] * 2:
            response = requests.get(f"{served.base}{path}", timeout=60)
            assert response.status_code == 502
            time.sleep(1.5)  # the calls in flight end, and memory is given back once more
            after.append(_rss(pid))
        peak = _hwm(pid)
        assert requests.get(f"{served.base}/healthz", timeout=2).status_code == 200
    detail = response.json()["detail"]
    assert re.fullmatch(
        r"insights of Google Analytics account '[^']+' \(page \d+\): the report passes 200,000 "
        r"ad rows here, the most one report reads \(STRACT_MAX_ROWS\)",
        detail,
    ), detail
    assert peak - idle < 400, (idle, peak)  # uncapped, this read would reach gigabytes
    assert max(after) < peak, (after, peak)
    assert after[-1] - after[0] < 0.75 * (peak - idle), (idle, after, peak)


@pytest.mark.serve
def test_serve_answers_503_past_its_budget_while_answers_are_held_open(
    make_simulator: Callable[..., Simulator],
) -> None:
    """Answers a slow client has not read yet are counted until their last byte goes: past
    the budget, the next request is 503 with Retry-After (not queued, not swapped), /healthz
    answers meanwhile, and once they are read every request is answered again."""
    # 150,000 rows: an answer of about 35 MB, more than waitress takes in before it waits for
    # the client (16 MB) and the socket's buffers, so an answer nobody reads stays in flight.
    sim = make_simulator(synthetic_dataset(50, 1000))
    with (
        serve(sim.url, "--memory-budget", str(160 * MB)) as served,
        ExitStack() as stack,
    ):
        url = f"{served.base}/geral.ndjson?_sort=Spend"
        alone = requests.get(url, timeout=60, headers=PLAIN).content
        held: list[requests.Response] = []
        refused: requests.Response | None = None
        for _ in range(32):
            response = requests.get(url, timeout=60, stream=True, headers=PLAIN)
            stack.callback(response.close)
            if response.status_code == 503:
                refused = response
                break
            assert response.status_code == 200
            held.append(response)
        assert refused is not None, f"{len(held)} answers held open, none refused"
        assert refused.headers["Retry-After"] == "5"
        assert "(STRACT_MEMORY_BUDGET); try again in a moment" in refused.json()["detail"]
        assert requests.get(f"{served.base}/healthz", timeout=2).status_code == 200
        assert all(r.content == alone for r in held)  # complete, and the same bytes
        assert requests.get(url, timeout=60, headers=PLAIN).content == alone
