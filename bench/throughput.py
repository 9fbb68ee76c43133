"""5. Throughput: /geral/resumo at 64 clients, 50 ms per upstream call, serve's defaults."""

from __future__ import annotations

from statistics import median

from harness import Out, Sample, Server, Simulator, hammer, p95, serve, simulator

TITLE = "5. Throughput: /geral/resumo, 64 clients, 50 ms per upstream call"


def resumo(sim: Simulator, server: Server, seconds: float) -> tuple[list[Sample], int, float]:
    """After a warm-up, /geral/resumo by 64 clients for ``seconds``: the samples, the upstream
    calls and the server CPU seconds they took."""
    hammer(server.base, ["/geral/resumo"], 64, 2)
    sim.reset()
    cpu = server.cpu()
    samples = hammer(server.base, ["/geral/resumo"], 64, seconds)
    return samples, sim.calls(), server.cpu() - cpu


def run(out: Out, quick: bool) -> None:
    """/healthz (the serving layer alone), then the report, each for a while."""
    seconds = 3 if quick else 10
    with simulator(latency_ms=50) as sim, serve(sim.api_url) as server:
        health = hammer(server.base, ["/healthz"], 64, seconds / 2)
        samples, calls, cpu = resumo(sim, server, seconds)
    walls, count = [s.seconds * 1000 for s in samples], len(samples)
    ok, ceiling = sum(s.status == 200 for s in samples), len(health) / (seconds / 2)
    out(
        f"{count} requests in {seconds} s, {ok} of them 200: p50 {median(walls):.0f} ms, p95"
        f" {p95(walls):.0f} ms; per request {calls / count:.1f} upstream calls"
        f" and {cpu / count * 1000:.1f} ms of server CPU.",
        "",
    )
    against = f"/healthz {ceiling:.0f} req/s"
    out.goal("/geral/resumo, 64 clients, 50 ms", ok / seconds, "≥ 150 req/s", against)
