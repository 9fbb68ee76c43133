"""Fault injection for the simulator: which calls fail, and how.

A plan is a list of rules. Each rule names a fault kind, which calls it applies to (a substring of
the request target, e.g. ``/insights`` or ``account=3``; a bare ``insights`` would also match
``platform=tiktok_insights``), and when: always, with a probability,
or only for the first N calls of each distinct URL. The decision for a probability is a hash of
(seed, URL, how many times that URL was called), so it does not depend on thread timing.

On the command line a plan is written ``KIND[:OPTION=VALUE...][,KIND...]``, for example
``429:first=1:retry_after=1,500:p=0.05:match=/insights``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The ways a call can go wrong, as the report server's client will meet them.
FAULT_KINDS = {
    "429": "HTTP 429 with a Retry-After header",
    "500": "HTTP 500",
    "502": "HTTP 502",
    "503": "HTTP 503",
    "slow": "the right answer, but only after `delay` seconds",
    "truncate": "headers promise the whole body, half of it is sent, the connection closes",
    "stall": "headers and half the body at once, the rest only after `delay` seconds",
    "malformed": "HTTP 200 whose body is not JSON",
    "drop": "the connection closes before any response",
    "error": 'HTTP 200 with {"error": "invalid request"}',
    "401": "HTTP 401: the bearer token is refused",
    "no-total": "the pagination object lacks `total`",
    "zero-total": "pagination total is 0",
    "text-total": 'pagination total is a string ("many")',
    # Hostile: what a broken or malicious API could send (the report server must refuse each).
    "huge-total": "pagination total is 1,000,000,000 pages",
    "huge-body": "HTTP 200 whose body never ends (1 GiB, no length announced)",
    "gzip-bomb": "HTTP 200 gzip body of about 1 MiB that inflates to 1 GiB",
    "drip": "the right body, one byte every `delay` seconds",
    "redirect": "HTTP 302 to the same path and query on another host",
    "deep": "HTTP 200 whose body nests 100,000 arrays deep",
    "dup-keys": "the right body with its list repeated, empty, under the same key",
    "collide": 'the platform list names its last platform "geral", the general report\'s path',
}


@dataclass(frozen=True)
class FaultRule:
    """One fault kind, the calls it applies to, and when it fires."""

    kind: str
    match: str = ""
    first: int | None = None
    probability: float = 1.0
    retry_after: float = 1.0
    delay: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("fault probability must be between 0 and 1")

    def fires(self, target: str, call_number: int, seed: int) -> bool:
        """Whether this rule applies to the ``call_number``-th call (1-based) of ``target``."""
        if self.match not in target:
            return False
        if self.first is not None and call_number > self.first:
            return False
        if self.probability >= 1.0:
            return True
        digest = hashlib.blake2b(f"{seed}|{self.kind}|{target}|{call_number}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.probability


_OPTIONS = {
    "match": ("match", str),
    "first": ("first", int),
    "p": ("probability", float),
    "retry_after": ("retry_after", float),
    "delay": ("delay", float),
}


def parse_faults(spec: str) -> list[FaultRule]:
    """Parse a command-line fault plan such as ``429:first=1,500:p=0.05:match=/insights``."""
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, *options = part.split(":")
        kwargs: dict[str, object] = {}
        for option in options:
            name, sep, value = option.partition("=")
            if not sep or name not in _OPTIONS:
                raise ValueError(f"bad fault option {option!r}; known: {', '.join(_OPTIONS)}")
            attr, convert = _OPTIONS[name]
            kwargs[attr] = convert(value)
        rules.append(FaultRule(kind, **kwargs))  # type: ignore[arg-type]
    return rules
