"""Slow clients against ``stract-reports serve`` (issue 9, item 10): does it keep answering?

Starts the real-data simulator and ``stract-reports serve`` (both subprocesses on 127.0.0.1),
then opens DRIP connections that send a request line and one header line every EVERY seconds
(never finishing their headers) and IDLE connections that send nothing. While they hold on,
one client asks ``/healthz`` and ``/geral/resumo`` in turn for SECONDS and prints the latency
of each (the slowest is what matters: the goal is under a second). Extra arguments after ``--``
go to ``serve`` (e.g. ``-- --threads 64``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import requests

from common import CLI, HOST, free_port, median, simulator_process, started


@contextlib.contextmanager
def slow_connections(port: int, drip: int, idle: int, every: float) -> Iterator[list[int]]:
    """Hold ``drip`` dripping and ``idle`` silent connections open; yields a one-item counter
    of dripping connections the server has closed so far."""
    stop = threading.Event()
    closed = [0]
    socks: list[socket.socket] = []
    for _ in range(idle):
        socks.append(socket.create_connection((HOST, port), timeout=5))

    def dripper() -> None:
        with socket.create_connection((HOST, port), timeout=5) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                n = 0
                while not stop.wait(every):
                    sock.sendall(f"X-Drip-{n}: {'a' * 20}\r\n".encode())
                    n += 1
            except OSError:
                closed[0] += 1

    threads = [threading.Thread(target=dripper, daemon=True) for _ in range(drip)]
    for thread in threads:
        thread.start()
    try:
        yield closed
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=every + 5)
        for sock in socks:
            sock.close()


def measure(base: str, seconds: float) -> dict[str, list[float]]:
    """Latency of each /healthz and /geral/resumo asked in turn for ``seconds`` (inf: failed)."""
    times: dict[str, list[float]] = {"/healthz": [], "/geral/resumo": []}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for path, samples in times.items():
            start = time.perf_counter()
            try:
                response = requests.get(base + path, timeout=5)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            samples.append(time.perf_counter() - start if ok else float("inf"))
        time.sleep(0.2)
    return times


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurement and print one line per path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drip", type=int, default=32)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("serve_args", nargs="*")
    args = parser.parse_args(argv)
    with simulator_process(latency=args.latency_ms / 1000) as sim:
        port = free_port()
        serve = [CLI, "serve", "--host", HOST, "--port", str(port), "--api-url", sim.api_url]
        base = f"http://{HOST}:{port}"
        with started([*serve, *args.serve_args], f"{base}/healthz", name="report server"):
            before = measure(base, 2)
            with slow_connections(port, args.drip, args.idle, args.every) as closed:
                time.sleep(1)
                during = measure(base, args.seconds)
            print(
                f"serve {' '.join(args.serve_args) or '(defaults)'}: {args.drip} dripping "
                f"every {args.every:g} s, {args.idle} idle; drippers cut: {closed[0]}"
            )
            for path in during:
                quiet, loaded = before[path], during[path]
                failed = sum(t == float("inf") for t in loaded)
                print(
                    f"  {path:14} quiet median {median(quiet) * 1000:6.0f} ms | loaded median "
                    f"{median(loaded) * 1000:6.0f} ms, max {max(loaded) * 1000:6.0f} ms, "
                    f"{failed}/{len(loaded)} failed (5 s timeout)"
                )


if __name__ == "__main__":
    main()
