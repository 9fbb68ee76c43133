"""9. Load (``make load``): clients under injected upstream faults, ordinary then hostile.

Every 200 must be the fault-free report (CSV byte for byte, JSON without ``generated_at``), no
body or log line may carry a token; other statuses are counted (an honest 502/503/504 is fine).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from statistics import median

from harness import BenchError, Out, get, hammer, p95, serve, session, simulator
from stract_reports.simulator import DEFAULT_TOKEN, real_dataset

# The fault mixes, one simulator fault rule a line: mix, kind, options (then why). On each call
# the first rule that fires wins. The hostile mix grows with the simulator's fault kinds.
FAULTS = """
ordinary  500         p=0.02
ordinary  429         p=0.01:retry_after=0
ordinary  truncate    p=0.01
ordinary  malformed   p=0.01
hostile   stall       p=0.002:delay=12   half a body, then silence past STRACT_API_TIMEOUT
hostile   slow        p=0.02:delay=2
hostile   drop        p=0.02             the connection closes before any answer
hostile   502         p=0.01
hostile   503         p=0.01
hostile   429         p=0.01:retry_after=1
hostile   error       p=0.005            a 200 saying {"error": ...}: the report fails
hostile   401         p=0.002            the bearer refused
hostile   no-total    p=0.01             pagination without its total
hostile   zero-total  p=0.01
hostile   text-total  p=0.01             pagination total "many"
hostile   huge-total  p=0.005:match=/accounts  a billion pages claimed
hostile   huge-body   p=0.002:match=/insights  a body past STRACT_MAX_BODY_BYTES
hostile   gzip-bomb   p=0.002:match=/insights  1 GiB once inflated
hostile   drip        p=0.002:delay=0.05  a byte each 50 ms: cut at the whole-response timeout
hostile   redirect    p=0.005            a 302 elsewhere: never followed
hostile   deep        p=0.005            JSON nested past any parser's depth
hostile   dup-keys    p=0.005            an object whose keys repeat
"""
MIXES: dict[str, list[str]] = {}
for mix, kind, options, *_ in (line.split(maxsplit=3) for line in FAULTS.strip().splitlines()):
    MIXES.setdefault(mix, []).append(f"{kind}:{options}")
CLIENTS, LATENCY_MS = 8, 20
TITLE = f"9. Load: {CLIENTS} clients, {LATENCY_MS} ms per upstream call, injected faults"
DATA = real_dataset()
TOKENS = [DEFAULT_TOKEN.encode()] + [a.token.encode() for p in DATA.platforms for a in p.accounts]
NAMES = ["geral", *(p.value for p in DATA.platforms)]
PATHS = [f"/{n}{r}{x}" for n in NAMES for r in ("", "/resumo") for x in ("", ".json")]
GENERATED_AT = re.compile(rb'"generated_at":\s*"[^"]*",?')


def fingerprint(path: str, status: int, body: bytes) -> tuple[bytes, bool]:
    """A 200's digest (JSON without its timestamp) or another answer's start; a token in it?"""
    leaked = any(token in body for token in TOKENS)
    if status != 200:
        return body[:200], leaked
    if path.endswith(".json"):
        body = GENERATED_AT.sub(b"", body, count=1)
    return hashlib.sha256(body).digest(), leaked


def run(out: Out, quick: bool) -> None:
    """The reference bytes from a fault-free upstream, then each mix on a fresh server."""
    seconds = 10 if quick else 30
    with simulator(latency_ms=LATENCY_MS) as sim, serve(sim.api_url) as server, session() as http:
        reference = {
            p: fingerprint(p, 200, get(http, server.base + p)[1].content)[0] for p in PATHS
        }
    failures = 0
    for name, rules in MIXES.items():
        spec = ",".join(rules)
        with simulator("--faults", spec, latency_ms=LATENCY_MS) as sim, serve(sim.api_url) as srv:
            samples = hammer(srv.base, PATHS, CLIENTS, seconds, fingerprint)
            faults, log = sim.stats()["faults"], srv.output()
        statuses = dict(sorted(Counter(s.status for s in samples).items()))
        walls = [s.seconds for s in samples]
        examples = {s.status: s for s in samples if s.status != 200}
        out(
            f"**{name}** `{spec}`: {len(samples)} requests in {seconds} s, statuses {statuses};"
            f" p50 {median(walls):.2f} s, p95 {p95(walls):.2f} s, max {max(walls):.2f} s;"
            f" faults fired {faults}",
            "",
            *(
                f"- e.g. {c} on {s.path}: {s.kept[0].decode(errors='replace')[:160]}"
                for c, s in sorted(examples.items())
            ),
            *([""] if examples else []),
        )
        wrong = sum(s.status == 200 and s.kept[0] != reference[s.path] for s in samples)
        leaks = sum(s.kept[1] for s in samples)
        ok = f"{statuses.get(200, 0)} 200s"
        out.goal(f"load, {name}: 200s unlike the fault-free report", wrong, "≤ 0", ok)
        out.goal(f"load, {name}: bodies carrying a token", leaks, "≤ 0", f"{len(samples)} bodies")
        logged = sum(log.count(token) for token in TOKENS)
        out.goal(f"load, {name}: tokens in the server's log", logged, "≤ 0", f"{len(log):,} bytes")
        failures += wrong + leaks + logged
    if failures:
        raise BenchError(f"{failures} wrong or leaking answers under load")
