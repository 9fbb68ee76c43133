"""The fleet: what every server process and host shares — in-flight upstream reads, the warm
shape and the upstream's rate budget — through Redis when ``STRACT_SHARED_URL`` is set, in
memory otherwise. One feature per file:

    protocol   the interface the client uses (``SharedBackend``), its errors, ``read_key``
    backends   ``open_backend``: ``LocalBackend`` (this process alone) or ``RedisBackend``
    link       the Redis connection and its fallback while Redis is down or slow; the scope;
               the Lua scripts (``scripts/*.lua``, package data)
    seal       the HMAC on bodies and shapes, keyed from the bearer token
    reads      shared reads: one process reads, the others take its body's bytes
    budget     the rate budget, and a 429's back-off
    shapes     the warm shape's store

    open_backend(settings) -> SharedBackend        one per process, closed with the app
        ├── LocalBackend    no Redis: ``read()`` is called directly, the shape lives in this
        │                   process's memory, the rate budget is a token bucket of its own
        └── RedisBackend    the fleet: one process reads, the others wait for its bytes; the
                            shape and the budget live in Redis. While Redis is unreachable or
                            slow every method answers at once from its LocalBackend; with the
                            public API token (no secret to seal with) reads and the shape are
                            always this process's own.

    SharedError                        also: the caller gave up waiting (``abandoned``)
    └── SharedTimeout (TimeoutError)   waited for another process's read until our deadline
        └── BudgetTimeout              the rate budget grants no call before our deadline

What Redis holds, every key under ``stract:v1:<scope>:`` and every key expiring on its own.
``<scope>`` is derived (scrypt, then HMAC) from the upstream URL and the bearer token, so two
deployments with different tokens never share anything, and no key name reveals the token;
a read's key is an HMAC of its endpoint and parameters, never the parameters themselves.

    read:{H}:lock      the reading process's random id; ``lock_ttl`` ms, renewed while it reads
    read:{H}:join:ID   "someone waits for read ID"; ``handover`` s (+ ``cache_ttl``)
    read:{H}:res:ID    the sealed body of read ID, written only when someone waits for it or
                       ``cache_ttl`` > 0; ``handover`` s (+ ``cache_ttl`` when set)
    read:{H}:last      ID of the newest body, only when ``cache_ttl`` > 0; ``cache_ttl`` s
    shape              the client's opaque warm shape, sealed; the TTL its caller gives
    {budget}:tat       the rate budget's next free slot (µs); a second beyond it
    {budget}:pause     a shared back-off after a 429 (µs); until it ends

Risk: the shape holds per-account tokens (they are part of every insights call) and the bodies
hold ad-spend data. Anyone who can read this Redis can read them. Point ``STRACT_SHARED_URL``
only at a Redis reachable from the report servers alone, with a password (``redis://:PASSWORD@``)
or TLS (``rediss://``). The bearer token is never stored; the shape is kept minimal by its
caller and expires.

What a writer to this Redis without the API token can do, and cannot: bodies and the shape are
sealed (``seal``), so it cannot feed a report numbers or a shape of its own, nor make garbage
look like the upstream's fault (a value failing its seal is ignored and read here); the back-off
and the next free slot it writes are bounded to ``MAX_HOLD`` (an hour, as a Retry-After is); a
lock without its expiry, or with a longer one, or not one of ours, is taken over. It can still
deny service: delete keys (reads are then not shared), keep a lock or a back-off in place, or
slow Redis down (the breaker then works on its own).
"""

from .backends import LocalBackend, RedisBackend, open_backend
from .link import NAMESPACE
from .protocol import (
    CONNECTED,
    DEGRADED,
    DOWN,
    OFF,
    BudgetTimeout,
    SharedBackend,
    SharedError,
    SharedTimeout,
    read_key,
)

__all__ = [
    "CONNECTED",
    "DEGRADED",
    "DOWN",
    "NAMESPACE",
    "OFF",
    "BudgetTimeout",
    "LocalBackend",
    "RedisBackend",
    "SharedBackend",
    "SharedError",
    "SharedTimeout",
    "open_backend",
    "read_key",
]
