"""9. Load (``make load``): clients under injected upstream faults, ordinary then hostile, then
two processes sharing a Redis that an attacker without the API token keeps writing to.

Every 200 must be the fault-free report (CSV byte for byte, JSON without ``generated_at``), no
body or log line may carry a token; other statuses are counted (an honest 502/503/504 is fine).
Hostile requests ride along with the reports (``HOSTILE_REQUESTS``: ``//geral``, a filter value
out of the number bounds, digits that are not ASCII, 165 filters): each must get the answer it
gets without faults. ``/healthz`` is asked all along and must answer within a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from statistics import median
from urllib.parse import urlencode

import redis as redis_client

from harness import (
    HOST,
    BenchError,
    Out,
    Sample,
    Server,
    get,
    hammer,
    p95,
    serve,
    session,
    simulator,
)
from processes import PRIVATE, TOKEN, redis
from stract_reports.simulator import DEFAULT_TOKEN, real_dataset

# The fault mixes, one simulator fault rule a line: mix, kind, options (then why). On each call
# the first rule that fires wins. The hostile mix grows with the simulator's fault kinds; the
# redis mix runs the ordinary faults on two processes while ``forger`` writes to their Redis.
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
hostile   collide     p=0.005:match=/platforms  a platform named "geral": refused, naming it
redis     500         p=0.02
redis     429         p=0.01:retry_after=0
redis     truncate    p=0.01
redis     malformed   p=0.01
"""
MIXES: dict[str, list[str]] = {}
for mix, kind, options, *_ in (line.split(maxsplit=3) for line in FAULTS.strip().splitlines()):
    MIXES.setdefault(mix, []).append(f"{kind}:{options}")
CLIENTS, LATENCY_MS = 8, 20
TITLE = f"9. Load: {CLIENTS} clients, {LATENCY_MS} ms per upstream call, injected faults"
DATA = real_dataset()
ACCOUNT_TOKENS = [a.token.encode() for p in DATA.platforms for a in p.accounts]
TOKENS = [DEFAULT_TOKEN.encode(), TOKEN.encode(), *ACCOUNT_TOKENS]
NAMES = ["geral", *(p.value for p in DATA.platforms)]
REPORTS = [f"/{n}{r}{x}" for n in NAMES for r in ("", "/resumo") for x in ("", ".json")]
# Requests a hostile client sends: each answered as without faults (those that read nothing:
# always), never a 500.
HOSTILE_REQUESTS = [
    "//geral",  # 404: no path of ours
    "/geral?Spend=9e99",  # 400 before any read: out of the number bounds
    "/meta_ads.json?" + urlencode({"Clicks": "١٢٣"}),  # 400: Arabic-Indic digits are no number
    "/geral.csv?" + urlencode([("Platform", "Facebook Ads")] * 165),  # 165 filters: one pass
]
READS_NOTHING = HOSTILE_REQUESTS[:3]
PATHS = REPORTS + HOSTILE_REQUESTS
GENERATED_AT = re.compile(rb'"generated_at":\s*"[^"]*",?')
PROBE_EVERY = 0.1  # seconds between two /healthz while the clients run
# What the forger writes: a shape of calls nobody makes, bodies that are no upstream's, and a
# back-off, next slot and locks that are no time or id of ours.
FORGED_CALLS = [
    ["insights", [["account", str(i)], ["token", hashlib.sha256(b"%d" % i).hexdigest()[:32]]], "x"]
    for i in range(5000)
]
FORGED_SHAPE = json.dumps([[None, FORGED_CALLS]]).encode()
FORGED_BODY = b'{"platforms": [], "fields": [], "accounts": [], "insights": []}'


def fingerprint(path: str, status: int, body: bytes) -> tuple[int, bytes, bool]:
    """The status, a 200's digest (JSON without its timestamp) or another answer's start, and
    whether a token is in it."""
    leaked = any(token in body for token in TOKENS)
    if status != 200:
        return status, body[:200], leaked
    if ".json" in path:
        body = GENERATED_AT.sub(b"", body, count=1)
    return status, hashlib.sha256(body).digest(), leaked


@contextlib.contextmanager
def probing(bases: list[str]) -> Iterator[list[float]]:
    """Ask each base's /healthz every ``PROBE_EVERY`` seconds while the block runs; yields the
    seconds each took (a failed one counts as 60)."""
    took: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with session() as http:
            while not stop.wait(PROBE_EVERY):
                for base in bases:
                    started = time.perf_counter()
                    try:
                        ok = http.get(f"{base}/healthz", timeout=60).status_code == 200
                    except OSError:
                        ok = False
                    took.append(time.perf_counter() - started if ok else 60.0)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield took
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def forger(port: str) -> Iterator[Counter[str]]:
    """Write to the fleet's Redis, as someone without the API token could, every 0.1 s while
    the block runs; yields how many values of each kind it wrote."""
    written: Counter[str] = Counter()
    stop = threading.Event()

    def forge(store: redis_client.Redis) -> None:
        keys = list(store.scan_iter(b"stract:v1:*", count=1000))
        if not keys:
            return
        prefix = b":".join(keys[0].split(b":")[:3]) + b":"
        for key in keys:
            if key.endswith(b":lock"):
                store.set(key, b"not-one-of-ours")  # no expiry: held for ever
                written["lock"] += 1
            elif b":res:" in key:
                store.set(key, FORGED_BODY, px=5000)
                written["body"] += 1
        store.set(prefix + b"shape", FORGED_SHAPE, px=300_000)
        store.set(prefix + b"{budget}:pause", b"soon")
        store.set(prefix + b"{budget}:tat", b"later")
        written["shape"] += 1
        written["budget"] += 2

    def run() -> None:
        with redis_client.Redis(host=HOST, port=int(port)) as store:
            while not stop.wait(0.1):
                with contextlib.suppress(redis_client.RedisError):
                    forge(store)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def servers(mix: str, spec: str) -> Iterator[tuple[list[Server], Counter[str], dict[str, int]]]:
    """The mix's serve processes on a faulty simulator (two sharing a forged Redis for the
    redis mix); yields them, what was forged, and the simulator's fired faults (filled when
    the block ends)."""
    fired: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        if mix == "redis":
            sim = stack.enter_context(
                simulator("--token", TOKEN, "--faults", spec, latency_ms=LATENCY_MS)
            )
            port = stack.enter_context(redis())
            env = {"STRACT_SHARED_URL": f"redis://{HOST}:{port}/0", "STRACT_CACHE_TTL": "2"}
            fleet = [stack.enter_context(serve(sim.api_url, {**env, **PRIVATE})) for _ in "ab"]
            forged = stack.enter_context(forger(port))
        else:
            sim = stack.enter_context(simulator("--faults", spec, latency_ms=LATENCY_MS))
            fleet, forged = [stack.enter_context(serve(sim.api_url))], Counter()
        yield fleet, forged, fired
        fired.update(sim.stats()["faults"])


def run(out: Out, quick: bool) -> None:
    """The reference answers from a fault-free upstream, then each mix on fresh servers."""
    seconds = 10 if quick else 30
    with simulator(latency_ms=LATENCY_MS) as sim, serve(sim.api_url) as server, session() as h:
        reference = {}
        for path in PATHS:
            response = h.get(server.base + path, timeout=60)
            if response.status_code != 200 and path not in READS_NOTHING:
                get(h, server.base + path)  # raises, saying what answered
            reference[path] = fingerprint(path, response.status_code, response.content)[:2]
    failures = 0
    for name, rules in MIXES.items():
        spec = ",".join(rules)
        with servers(name, spec) as (fleet, forged, fired):
            bases = [served.base for served in fleet]
            with probing(bases) as probes:
                urls = [base + path for base in bases for path in PATHS]
                samples = hammer("", urls, CLIENTS, seconds, fingerprint)
            log = b"".join(served.output() for served in fleet)
        statuses = dict(sorted(Counter(s.status for s in samples).items()))
        walls = [s.seconds for s in samples]
        examples = {s.status: s for s in samples if s.status != 200}
        out(
            f"**{name}** `{spec}`: {len(samples)} requests in {seconds} s, statuses {statuses};"
            f" p50 {median(walls):.2f} s, p95 {p95(walls):.2f} s, max {max(walls):.2f} s;"
            f" faults fired {fired}" + (f"; forged in Redis {dict(forged)}" if forged else ""),
            "",
            *(
                f"- e.g. {c} on {s.path}: {s.kept[1].decode(errors='replace')[:160]}"
                for c, s in sorted(examples.items())
            ),
            *([""] if examples else []),
        )
        wrong = sum(_wrong(sample, reference, bases) for sample in samples)
        leaks = sum(s.kept[2] for s in samples)
        ok = f"{statuses.get(200, 0)} 200s"
        out.goal(f"load, {name}: answers unlike the fault-free ones", wrong, "≤ 0", ok)
        out.goal(f"load, {name}: bodies carrying a token", leaks, "≤ 0", f"{len(samples)} bodies")
        logged = sum(log.count(token) for token in TOKENS)
        out.goal(f"load, {name}: tokens in the server's log", logged, "≤ 0", f"{len(log):,} bytes")
        slowest = max(probes, default=60.0)
        out.goal(f"load, {name}: slowest /healthz", slowest, "≤ 1.00 s", f"{len(probes)} asked")
        failures += wrong + leaks + logged + (slowest > 1.0)
    if failures:
        raise BenchError(f"{failures} wrong, leaking or late answers under load")


def _wrong(sample: Sample, reference: dict[str, tuple[int, bytes]], bases: list[str]) -> bool:
    """A 200 unlike the fault-free one, a request that reads nothing answered otherwise, or a
    500."""
    path = sample.path
    for base in bases:
        path = path.removeprefix(base)
    status, kept = sample.kept[:2]
    if path in READS_NOTHING or status == 200:
        return (status, kept) != reference[path]
    return status == 500
