"""A TCP relay on loopback that holds what the client sends for ``delay`` seconds before passing
it on: a real Redis made slow, as a congested network or an overloaded host makes it. It
counts the chunks it relays (about one per Redis command); ``delay`` may change at any time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class SlowLink:
    """Relays 127.0.0.1:``port`` to ``target_port``, each client chunk ``delay`` seconds late."""

    def __init__(self, target_port: int, delay: float = 0.0) -> None:
        self.target_port = target_port
        self.delay = delay
        self.relayed = 0  # chunks passed from clients to the target
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        """A Redis URL that goes through the relay."""
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> SlowLink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, server]
            for args in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, held: bool) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                chunk = source.recv(65536)
                if not chunk:
                    break
                if held:
                    with self._lock:
                        self.relayed += 1
                    if self.delay:
                        time.sleep(self.delay)
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
