"""Recording on a schedule: ``serve --record-every`` reads and records every platform once per
interval, by one process of the whole fleet; ``stract-reports record`` once, for cron.

Each process runs one thread. Intervals are counted from the epoch (``store.interval_start``),
so every process and host names them alike; at the start of each (and once at start-up, for
the interval already begun) a process claims it in the store (``claim_interval``), and only the
one whose claim is first reads every platform and hands the read to its recorder. A read that
fails is logged and waits for the next interval; a store that cannot take the claim is logged
once, and once when it takes claims again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta

from .config import Settings
from .errors import InvalidRequest, ReportError
from .pipeline import read_assembled
from .recording import record_now
from .store import SnapshotInfo, StoreUnavailable, interval_start, open_store, upstream_identity
from .store.times import now_utc
from .store_link import STORE_IS_OFF, StoreLink
from .upstream import StractClient

log = logging.getLogger("stract_reports.schedule")

# At most this long after an interval starts, a process claims it: the fleet's processes do not
# all reach the store in the same millisecond.
MAX_JITTER = 1.0


class Schedule:
    """One process's recording schedule (see the module)."""

    def __init__(self, client: StractClient, store: StoreLink, every: timedelta) -> None:
        self.client = client
        self.store = store
        self.every = every
        self.recorded = 0  # intervals this process recorded
        self._stopping = threading.Event()
        self._claims_fail = False
        self._thread = threading.Thread(target=self._run, name="record-schedule", daemon=True)

    def start(self) -> Schedule:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a read in progress is abandoned when the client closes)."""
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        jitter = min(MAX_JITTER, self.every.total_seconds() / 20)
        start = interval_start(now_utc(), self.every)
        while not self._stopping.is_set():
            try:
                self._interval(start)
            except Exception:  # the schedule must outlive anything it meets
                log.exception("recording schedule: unexpected error")
            start += self.every
            wait = (start - now_utc()).total_seconds() + random.uniform(0, jitter)
            if self._stopping.wait(max(0.0, wait)):
                return

    def _interval(self, start: datetime) -> None:
        """Claim the interval starting at ``start``; record it if this process won."""
        store = self.store.store
        if store is None:  # not open (yet): nothing to claim with
            return
        try:
            won = store.snapshots.claim_interval(start)
        except StoreUnavailable as exc:
            if not self._claims_fail:
                log.warning("recording schedule: the store takes no claim: %s", exc.detail)
            self._claims_fail = True
            return
        if self._claims_fail:
            log.warning("recording schedule: the store takes claims again")
            self._claims_fail = False
        if not won:
            return
        began = time.monotonic()
        try:
            read, assembled = read_assembled(self.client, None)
        except ReportError as exc:
            log.warning(
                "recording schedule: the read of %s failed: %s: %s",
                start.isoformat(timespec="seconds"),
                exc.title,
                exc.detail,
            )
            return
        self.store.record(read, assembled, "schedule")
        self.recorded += 1
        log.info(
            "recording schedule: read %d platform(s) in %.2f s for the interval of %s",
            len(read.data),
            time.monotonic() - began,
            start.isoformat(timespec="seconds"),
        )


def record_once(settings: Settings) -> SnapshotInfo:
    """``stract-reports record``: read every platform, record the read at once, and prune
    what ``STRACT_KEEP`` no longer keeps. ``InvalidRequest`` when the store is off."""
    store = open_store(settings.store, upstream=upstream_identity(settings.api_url))
    if store is None:
        raise InvalidRequest(STORE_IS_OFF)
    try:
        with StractClient(settings) as client:
            read, assembled = read_assembled(client, None)
        info = record_now(store, read, assembled, "record")
        if settings.keep_for is not None:
            store.snapshots.prune(now_utc(), settings.keep_for)
        return info
    finally:
        store.close()
