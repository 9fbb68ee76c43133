"""The store's background writer: reports hand it their reads and go on; it writes them, and
the batched key uses and audit entries, in its own thread.

``submit`` never blocks and never raises: a read waits in a bounded queue (``queue_size``);
when the queue is full the read is dropped with one log line. A read lets go at once of the
rows of the accounts this process knows unchanged (their digests say so: ``Snapshots.slim``),
so an unchanged 300,000-row read waits as a few hundred small records, not a second copy.

When the store cannot be written (down, full, locked) the recorder logs one line, its
``state`` becomes ``down`` with the reason (for ``/readyz``), and while it stays down only the
latest read is kept, retried every ``retry_every`` seconds; the first write that works again
logs one line and the state is ``ok``. Failures in between log nothing: one line per change
of state, never per failure.

Key uses are written at most once a minute per key (``touch_every``), audit entries at most
once a second (``flush_every``), and everything left at ``flush()`` and ``close()``. After a
recording, snapshots older than ``keep`` are pruned, at most once an hour.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..records import Platform, PlatformData
from .audit import AuditEntry
from .changes import Omitted, Superseded
from .errors import StoreUnavailable
from .times import now_utc

if TYPE_CHECKING:
    from . import Store

log = logging.getLogger("stract_reports.store")

# Audit entries held while the store is down, at most; older ones are dropped (and counted).
MAX_PENDING_AUDIT = 10_000


@dataclass(frozen=True)
class RecorderState:
    """``ok``, or ``down`` with the reason (what the store answered, in words)."""

    status: str
    reason: str = ""


OK = RecorderState("ok")


# Fills in, in the writer thread, the rows of the accounts of a read that are not omitted
# (a read whose rows are held elsewhere until then: its report's column table).
Fill = Callable[[Sequence[PlatformData], Omitted], None]


@dataclass
class _Read:
    platforms: Sequence[Platform]
    data: Sequence[PlatformData]
    at: datetime
    trigger: str
    omitted: Omitted | None = None
    fill: Fill | None = None
    counts: Omitted | None = None  # set while the unchanged accounts are still to be found


@dataclass
class _Flush:
    done: threading.Event
    ok: bool = False


class Recorder:
    """The background writer of one store (see the module)."""

    def __init__(
        self,
        store: Store,
        *,
        keep: timedelta | None = None,
        queue_size: int = 2,
        retry_every: float = 2.0,
        flush_every: float = 1.0,
        touch_every: float = 60.0,
        prune_every: float = 3600.0,
    ) -> None:
        self.store = store
        self.keep = keep
        self.retry_every = retry_every
        self.flush_every = flush_every
        self.touch_every = touch_every
        self.prune_every = prune_every
        self._queue: queue.Queue[_Read | _Flush] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._state = OK
        self._held: _Read | None = None  # the latest read not written while the store is down
        self._retry_at = 0.0
        self._audit: list[AuditEntry] = []
        self._audit_dropped = 0
        self._audit_due = 0.0
        self._uses: dict[int, tuple[datetime, int]] = {}
        self._uses_written: dict[int, float] = {}
        self._pruned_at: float | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-recorder", daemon=True)
        self._thread.start()

    # What other threads call: never blocking, never raising.

    @property
    def state(self) -> RecorderState:
        """``ok``, or ``down`` with the reason."""
        return self._state

    def submit(
        self,
        platforms: Sequence[Platform],
        data: Sequence[PlatformData],
        *,
        at: datetime,
        trigger: str,
        counts: Omitted | None = None,
        fill: Fill | None = None,
    ) -> bool:
        """Hand over one complete read to be recorded; whether it was queued. While the store
        is down it replaces the read kept for the retry instead. The rows of the accounts this
        process knows unchanged are let go of at once (``Snapshots.slim``). A read whose rows
        are elsewhere gives each account's ad count (``counts``) and ``fill``: the writer thread
        then finds the unchanged accounts and fills in the rows of the others, so that nothing
        of the recording is done on the request's time."""
        if fill is not None:
            # The rows are not in the read: which accounts are unchanged is found by the writer
            # thread (a read of the store), never on the request's time.
            read = _Read(platforms, data, at, trigger, None, fill, counts)
        else:
            try:
                slim, omitted = self.store.snapshots.slim(data, counts)
            except Exception:  # never raises: the read is kept whole instead
                slim, omitted = list(data), {}
            read = _Read(platforms, slim, at, trigger, omitted)
        if self._stopping.is_set():
            return False
        with self._lock:
            if self._state.status != "ok":
                self._held = read
                return False
        try:
            self._queue.put_nowait(read)
        except queue.Full:
            log.warning(
                "store recorder busy: a read of %d platform(s) at %s was not recorded "
                "(%d reads already wait)",
                len(data),
                at.isoformat(timespec="seconds"),
                self._queue.maxsize,
            )
            return False
        return True

    def touch(self, key_id: int, at: datetime) -> None:
        """Count one use of a key (written in batches)."""
        with self._lock:
            last, count = self._uses.get(key_id, (at, 0))
            self._uses[key_id] = (max(last, at), count + 1)

    def audit(self, entry: AuditEntry) -> None:
        """Add one audit entry (written in batches)."""
        with self._lock:
            if not self._audit:
                self._audit_due = time.monotonic() + self.flush_every
            self._audit.append(entry)
            if len(self._audit) > MAX_PENDING_AUDIT:
                del self._audit[0]
                self._audit_dropped += 1

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over so far is written; whether it was."""
        marker = _Flush(threading.Event())
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout) and marker.ok

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and pending (within ``timeout``), then stop the thread."""
        if not self._stopping.is_set():
            self.flush(timeout)
            self._stopping.set()
        self._thread.join(timeout)

    # The writer thread.

    def _run(self) -> None:
        tick = min(self.flush_every, self.retry_every, 0.5)
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=tick)
            except queue.Empty:
                item = None
            try:
                if isinstance(item, _Flush):
                    item.ok = self._write_pending(everything=True)
                    item.done.set()
                elif item is not None:
                    self._write_read(item)
                if self._state.status == "ok":
                    self._write_pending(everything=False)
                elif time.monotonic() >= self._retry_at:
                    self._retry()
            except Exception:  # the writer must outlive anything it meets
                log.exception("store recorder: unexpected error")

    def _attempt(self, work: Callable[[], Any]) -> bool:
        """Run one write; a store that cannot be written changes the state (and logs once)."""
        try:
            work()
        except StoreUnavailable as exc:
            self._went_down(exc)
            return False
        self._works()
        return True

    def _write_read(self, read: _Read) -> None:
        def record() -> None:
            if read.counts is not None:
                read.data, read.omitted = self.store.snapshots.slim(read.data, read.counts)
                read.counts = None  # once: a retry knows them
            if read.fill is not None:
                read.fill(read.data, read.omitted or {})
                read.fill = None  # once: a retry has the rows
            self.store.snapshots.record(
                read.platforms, read.data, at=read.at, trigger=read.trigger, omitted=read.omitted
            )

        try:
            if not self._attempt(record):
                with self._lock:
                    if self._held is None or self._held.at <= read.at:
                        self._held = read
                return
        except Superseded as exc:  # another process recorded a newer state: nothing is lost
            log.info("store recorder: a read at %s was not recorded: %s", read.at, exc)
            return
        except Exception as exc:  # a read that cannot be recorded (not the store's fault)
            log.error("store recorder: a read at %s was not recorded: %s", read.at, exc)
            return
        self._prune()

    def _retry(self) -> None:
        self._retry_at = time.monotonic() + self.retry_every
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            self._write_read(held)
        elif self._write_pending(everything=True):
            self._attempt(self._probe)

    def _probe(self) -> None:
        with self.store.db.write():
            pass

    def _write_pending(self, *, everything: bool) -> bool:
        """Write the audit entries and key uses that are due (all of them: ``everything``);
        whether the store took them (what it did not stays pending)."""
        now = time.monotonic()
        with self._lock:
            entries = self._audit if (everything or now >= self._audit_due) else []
            if entries:
                self._audit = []
            due = {
                key: use
                for key, use in self._uses.items()
                if everything or now - self._uses_written.get(key, -1e9) >= self.touch_every
            }
            for key in due:
                del self._uses[key]
            dropped, self._audit_dropped = self._audit_dropped, 0
        if dropped:
            log.warning(
                "store recorder: %d audit entries dropped while the store was down", dropped
            )
        ok = True
        if entries and not self._attempt(lambda: self.store.audit.append(entries)):
            with self._lock:
                self._audit[:0] = entries[: max(0, MAX_PENDING_AUDIT - len(self._audit))]
            ok = False
        if due and not self._attempt(lambda: self.store.keys.record_uses(due)):
            with self._lock:
                for key, (at, count) in due.items():
                    last, more = self._uses.get(key, (at, 0))
                    self._uses[key] = (max(last, at), count + more)
            ok = False
        elif due:
            for key in due:
                self._uses_written[key] = now
        return ok

    def _prune(self) -> None:
        if self.keep is None:
            return
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        keep = self.keep
        self._attempt(lambda: self.store.snapshots.prune(now_utc(), keep))

    def _went_down(self, exc: StoreUnavailable) -> None:
        with self._lock:
            was = self._state.status
            self._state = RecorderState("down", exc.detail)
            self._retry_at = time.monotonic() + self.retry_every
        if was == "ok":
            log.warning(
                "store unwritable: %s; reports go on live, their reads are not recorded "
                "until it works again",
                exc.detail,
            )

    def _works(self) -> None:
        with self._lock:
            was = self._state.status
            self._state = OK
        if was != "ok":
            log.warning("store writable again: %s", self.store.shown)
