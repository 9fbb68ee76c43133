"""A large report travels as it is rendered, never before its upstream read is complete: chunks
without a Content-Length, gzip as it goes, the same bytes every time for the same data (the
strong ETag, computed before the first byte, promises it); a read holds no decoded body in a
reference cycle; each ad keeps its upstream id."""

from __future__ import annotations

import gc
import gzip
from collections.abc import Callable
from typing import Any

from flask import Flask

from stract_reports.config import Settings
from stract_reports.pipeline import build_source
from stract_reports.reports.ingest import AdAssembly
from stract_reports.reports.spec import ReportSpec
from stract_reports.simulator import Simulator
from stract_reports.simulator.dataset import synthetic_dataset
from stract_reports.upstream import FetchLimits, StractClient, fetch_report_data

# 3 platforms x 2 accounts x 700 ads: 4,200 rows, three chunks of at most 2,000.
ACCOUNTS, ADS = 2, 700


def streamed(app: Flask, path: str, **headers: str) -> tuple[Any, list[bytes]]:
    """The response to ``path`` and its body as the chunks the app gave, unbuffered."""
    response = app.test_client().get(path, headers=headers, buffered=False)
    chunks = [chunk for chunk in response.response if chunk]
    response.close()
    return response, chunks


def test_a_large_csv_goes_out_in_chunks_and_gzip_as_it_goes(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    app = make_app(make_simulator(synthetic_dataset(ACCOUNTS, ADS)))

    plain, chunks = streamed(app, "/geral.csv")
    packed, packed_chunks = streamed(app, "/geral.csv", **{"Accept-Encoding": "gzip"})
    again, again_chunks = streamed(app, "/geral.csv", **{"Accept-Encoding": "gzip"})

    body = b"".join(chunks)
    assert plain.status_code == 200 and "Content-Length" not in plain.headers
    assert len(chunks) == 3  # the header with 2,000 rows, then the rest 2,000 at a time
    assert body.count(b"\r\n") == 1 + 3 * ACCOUNTS * ADS
    assert packed.headers["Content-Encoding"] == "gzip" and len(packed_chunks) > 1
    assert gzip.decompress(b"".join(packed_chunks)) == body
    # The same data, the same bytes: what the strong ETag promises, gzip included.
    assert b"".join(again_chunks) == b"".join(packed_chunks)
    assert again.headers["ETag"] == packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'


def test_json_and_ndjson_are_streamed_too(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    app = make_app(make_simulator(synthetic_dataset(ACCOUNTS, ADS)))

    for path in ("/geral.json", "/geral.ndjson", "/geral.json?_shape=array", "/geral.tsv"):
        response, chunks = streamed(app, path)
        assert response.status_code == 200 and len(chunks) >= 3, path


def test_the_etag_follows_the_data_and_a_match_renders_nothing(
    make_simulator: Callable[..., Simulator], make_app: Callable[..., Flask]
) -> None:
    sim = make_simulator(synthetic_dataset(ACCOUNTS, ADS))
    app = make_app(sim)
    client = app.test_client()
    tag = client.get("/geral.csv").headers["ETag"]

    assert client.get("/geral.csv", headers={"If-None-Match": tag}).status_code == 304
    assert client.get("/geral.csv?Country=BR").headers["ETag"] != tag  # other options
    sim.dataset = synthetic_dataset(ACCOUNTS, ADS, seed=1)  # other data, the same shape
    changed = client.get("/geral.csv", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    sim.dataset = synthetic_dataset(ACCOUNTS, ADS)
    assert client.get("/geral.csv").headers["ETag"] == tag


def test_a_read_keeps_no_decoded_body_in_a_reference_cycle(
    make_simulator: Callable[..., Simulator],
) -> None:
    """The collector is paused while a report reads: a body in a cycle would stay until the
    read ends. With the collector told to keep what it finds, it finds nothing of the read."""
    sim = make_simulator(synthetic_dataset(2, 50))
    settings = Settings(api_url=sim.url, store_url="off")
    with StractClient(settings) as client:
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            assembly = AdAssembly()
            fetch_report_data(client, None, FetchLimits.from_settings(settings), sink=assembly)
            gc.collect()
            kept = [o for o in gc.garbage if isinstance(o, dict) and ("insights" in o)]
            flights = [o for o in gc.garbage if type(o).__name__ in ("Flight", "Handle")]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert len(assembly.finish()) == 3 * 2 * 50
    assert (kept, flights) == ([], [])


def test_each_ad_keeps_its_upstream_id_never_shown(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(synthetic_dataset(2, 3))
    with StractClient(Settings(api_url=sim.url, store_url="off")) as client:
        ads, _ = build_source(client, ReportSpec(None))

    table = ads.table
    keys = [str(ads.ad_ids.cell(row)) for row in table.selection]
    assert keys == ["1", "2", "3"] * 6  # the synthetic ads' ids, account by account
    assert [(s.platform, s.account_id, s.start, s.stop) for s in ads.spans][:2] == [
        (0, "1", 0, 3),
        (0, "2", 3, 6),
    ]
    assert "id" not in [label.casefold() for label in table.columns]
