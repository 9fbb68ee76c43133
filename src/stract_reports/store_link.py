"""The process's store, as the app holds it: opened when the app is made, its recorder, and its
state for ``/readyz``.

A store that cannot be reached when the app is made (PostgreSQL not up yet) does not stop the
server: reports are live and never wait for the store. The link logs one line, says ``down``,
and tries again every ``retry_every`` seconds in a thread of its own; the first success logs
one line and starts recording. Once open, the recorder (``store.recorder``) keeps the state:
down, full or locked mid-run is one line when it starts and one when it ends, and reads are
recorded again.

``record`` hands a complete read to the recorder and returns at once. ``require`` is what a
history option asks for: the store, or an error that says why there is none (``off``: a 400
saying how to turn it on; not reachable: a 503).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .config import Settings
from .errors import InvalidRequest
from .recording import hand_over
from .records import Read
from .reports.ingest import AdColumns
from .store import (
    Recorder,
    Store,
    StoreTooNew,
    StoreUnavailable,
    open_store,
    upstream_identity,
)
from .store_location import STORE_OFF, parse_store_url

log = logging.getLogger("stract_reports.store")

STORE_IS_OFF = (
    "history needs the store, and STRACT_STORE_URL is off: set it to a SQLite file "
    "(sqlite:///PATH) or a PostgreSQL URL, or leave it empty for the per-user default; "
    "reports then record what they read"
)


@dataclass(frozen=True)
class StoreState:
    """``ok``, ``down`` (with the reason) or ``off``."""

    status: str
    detail: str = ""


class StoreLink:
    """The store of one process (see the module)."""

    def __init__(self, settings: Settings, *, retry_every: float = 5.0) -> None:
        self.url = settings.store
        self.upstream = upstream_identity(settings.api_url)
        self.keep = settings.keep_for
        self.retry_every = retry_every
        self.off = parse_store_url(self.url).dialect == STORE_OFF
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self._failure = ""
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._retrying: threading.Thread | None = None

    def open(self) -> StoreLink:
        """Open the store now, or keep trying in the background (``StoreTooNew`` raises:
        this program must not write a store it does not understand)."""
        if not self.off and not self._try_open():
            self._retrying = threading.Thread(target=self._retry, name="store-open", daemon=True)
            self._retrying.start()
        return self

    def _try_open(self) -> bool:
        try:
            store = open_store(self.url, upstream=self.upstream)
        except StoreTooNew as exc:
            if self._retrying is None:  # at start: this program must not run on it
                raise
            log.error("store not opened: %s", exc.detail)  # upgraded while it was unreachable
            self._failure = exc.detail
            return True  # no use trying again
        except StoreUnavailable as exc:
            if not self._failure:
                log.warning(
                    "store unreachable: %s; reports go on live, their reads are not recorded "
                    "until it can be opened (tried again every %g s)",
                    exc.detail,
                    self.retry_every,
                )
            self._failure = exc.detail
            return False
        assert store is not None  # not off
        with self._lock:
            if self._closed.is_set():
                store.close()
                return True
            self.store = store
            self.recorder = Recorder(store, keep=self.keep)
        if self._failure:
            log.warning("store reachable again: %s", store.shown)
            self._failure = ""
        return True

    def _retry(self) -> None:
        while not self._closed.wait(self.retry_every):
            if self._try_open():
                return

    @property
    def state(self) -> StoreState:
        """What ``/readyz`` says of the store."""
        if self.off:
            return StoreState("off")
        recorder = self.recorder
        if recorder is None:
            return StoreState("down", self._failure or "not opened yet")
        state = recorder.state
        return StoreState(state.status, state.reason)

    def record(self, read: Read, assembled: AdColumns, trigger: str) -> None:
        """Hand ``read`` (its ads assembled) to the recorder (never blocks, never raises);
        nothing while the store is off or not open."""
        recorder = self.recorder
        if recorder is not None:
            hand_over(recorder, read, assembled, trigger)

    def require(self) -> Store:
        """The store, for a request that reads history; ``InvalidRequest`` when it is off,
        ``StoreUnavailable`` when it is not open."""
        if self.off:
            raise InvalidRequest(STORE_IS_OFF)
        store = self.store
        if store is None:
            raise StoreUnavailable("down", parse_store_url(self.url).shown, self._failure)
        return store

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every read handed over is written; whether it was."""
        recorder = self.recorder
        return recorder is None or recorder.flush(timeout)

    def close(self) -> None:
        """Write what is pending, then close the recorder and the store."""
        self._closed.set()
        with self._lock:
            recorder, store = self.recorder, self.store
            self.recorder = self.store = None
        if recorder is not None:
            recorder.close()
        if store is not None:
            store.close()


def prepare_store(settings: Settings) -> str | None:
    """Open the store once before any worker starts, so its schema is migrated once; what to
    say when it cannot be reached (the workers try again: reports do not need it), or None.
    ``StoreTooNew`` for a store newer than this program: it must not start on it."""
    try:
        store = open_store(settings.store)
    except StoreUnavailable as exc:
        return f"{exc.detail}; serving live reports without recording them until it can be reached"
    if store is not None:
        store.close()
    return None
