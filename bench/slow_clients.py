"""8. Slow clients: serve keeps answering while connections drip their headers or stay silent.

The dripping ones send a request line, then one header line every few seconds, and never finish;
the idle ones send nothing. One client asks /healthz and /geral/resumo in turn meanwhile.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from statistics import median

from harness import HOST, Out, hammer, serve, simulator

TITLE = "8. Slow clients: 32 dripping and 200 idle connections"
DRIP, IDLE, EVERY = 32, 200, 3.0  # connections; seconds between two header lines
PATHS = ["/healthz", "/geral/resumo"]


@contextlib.contextmanager
def slow_connections(port: int) -> Iterator[list[int]]:
    """Hold DRIP dripping and IDLE silent connections; yields how many drips the server cut."""
    stop, cut = threading.Event(), [0]
    idle = [socket.create_connection((HOST, port), timeout=5) for _ in range(IDLE)]

    def drip() -> None:
        with socket.create_connection((HOST, port), timeout=5) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                for n in range(100_000):
                    if stop.wait(EVERY):
                        return
                    sock.sendall(f"X-Drip-{n}: {'a' * 20}\r\n".encode())
            except OSError:
                cut[0] += 1

    threads = [threading.Thread(target=drip, daemon=True) for _ in range(DRIP)]
    for thread in threads:
        thread.start()
    try:
        yield cut
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=EVERY + 5)
        for sock in idle:
            sock.close()


def run(out: Out, quick: bool) -> None:
    """Each path quiet, then under the slow connections (5 s per request at most)."""
    seconds = 4 if quick else 10
    with simulator(latency_ms=50) as sim, serve(sim.api_url) as server:
        quiet = hammer(server.base, PATHS, 1, 2, timeout=5)
        with slow_connections(int(server.base.rpartition(":")[2])) as cut:
            loaded = hammer(server.base, PATHS, 1, seconds, timeout=5)
    out(f"{len(loaded)} requests in {seconds} s; dripping connections cut: {cut[0]}.", "")
    for path in PATHS:
        calm = median(s.seconds for s in quiet if s.path == path) * 1000
        times = [s.seconds if s.status == 200 else float("inf") for s in loaded if s.path == path]
        name = f"{path} under {DRIP} dripping + {IDLE} idle connections: slowest answer"
        out.goal(name, max(times), "≤ 1.00 s", f"quiet median {calm:.0f} ms")
