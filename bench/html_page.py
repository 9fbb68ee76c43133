"""6. The first page of /geral.html at 300,000 rows, asked for as a browser does."""

from __future__ import annotations

import time

from harness import TIMEOUT, BenchError, Out, serve, session, simulator
from scale import PATIENT

TITLE = "6. /geral.html first page at 300,000 rows"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Encoding": "gzip, br"}


def run(out: Out, quick: bool) -> None:
    """The page as a browser asks for it: wall, server CPU, bytes sent; and its CPU above the
    same report's first 500 rows as CSV, which read and lay out the same 300,000 rows."""
    accounts, ads = (10, 100) if quick else (100, 1000)
    with (
        simulator("--synthetic", f"{accounts},{ads}") as sim,
        serve(sim.api_url, PATIENT) as server,
        session() as http,
    ):
        csv_cpu = server.cpu()
        baseline = http.get(f"{server.base}/geral.csv?_size=500", timeout=TIMEOUT)
        csv_cpu = server.cpu() - csv_cpu
        cpu, start, url = server.cpu(), time.perf_counter(), f"{server.base}/geral.html"
        with http.get(url, headers=BROWSER, stream=True, timeout=TIMEOUT) as response:
            sent = len(response.raw.read(decode_content=False))
        wall, cpu = time.perf_counter() - start, server.cpu() - cpu
        if response.status_code != 200 or baseline.status_code != 200:
            raise BenchError(f"/geral.html answered {response.status_code}")
    rows, encoding = f"{3 * accounts * ads:,} rows", response.headers.get("Content-Encoding")
    encoding = encoding or "identity"
    out(f"{rows}: wall {wall:.2f} s; {sent / 1000:,.0f} kB sent, Content-Encoding {encoding}.", "")
    out(f"Server CPU: {cpu:.2f} s for the page, {csv_cpu:.2f} s for the CSV's first 500 rows.", "")
    out.goal(
        f"/geral.html at {rows}: server CPU above the CSV's first page",
        max(0.0, cpu - csv_cpu),
        "≤ 1.00 s",
        f"both read all {rows}: {csv_cpu:.2f} s",
    )
    out.goal(f"/geral.html at {rows}: bytes sent", sent / 1000, "≤ 500 kB", encoding)
