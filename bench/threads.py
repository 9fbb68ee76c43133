"""10. serve's --threads and --workers (``run.py threads``): is the default the right choice?"""

from __future__ import annotations

from harness import Out, serve, simulator
from throughput import resumo

TITLE = "10. /geral/resumo by serve --threads and --workers: 64 clients, 50 ms per call"
CHOICES = [(), ("--threads", "8"), ("--threads", "32"), ("--threads", "64"), ("--workers", "2")]


def run(out: Out, quick: bool) -> None:
    """Each choice on a fresh server, against one simulator."""
    seconds, rates, rows = 3 if quick else 10, {}, []
    with simulator(latency_ms=50) as sim:
        for args in CHOICES:
            with serve(sim.api_url, args=args) as server:
                samples, calls, cpu = resumo(sim, server, seconds)
            name = " ".join(args) or "defaults"
            rates[name] = sum(s.status == 200 for s in samples) / seconds
            each = f"{calls / len(samples):.1f} | {cpu / len(samples) * 1000:.1f} ms"
            rows.append(f"{name} | {rates[name]:.0f} | {each}")
    out.table("serve | req/s (200s) | upstream calls / request | server CPU / request", rows)
    best = max(rates, key=rates.__getitem__)
    ratio, against = rates["defaults"] / rates[best], f"best: {best}, {rates[best]:.0f} req/s"
    out.goal("/geral/resumo, 64 clients: defaults / the best choice", ratio, "≥ 0.90", against)
