"""The process's memory budget: the bytes its reports hold at once, counted as they grow, and
memory given back to the operating system once a large or failed report lets it go.

Whatever holds a report's data takes a ``Charge`` of the process's ``MemoryBudget`` and says
how much it holds as it grows (``grow``): a build (its ad table, as the pages arrive), and an
answer (the slice a request cut, then the answer being drawn and sent). The sizes are
estimates per cell, measured on the synthetic reports (``bench/memory.py``), not the
allocator's own count. A charge that would take the total past the budget raises
``Overloaded`` (503 with ``Retry-After``) before the work holds more: a report is refused,
never a swap storm. A charge that could not fit even alone raises ``ReportTooLarge`` (502):
coming back later would not help.

Before refusing, the budget asks its ``reclaim`` hook (the build gate, which then lets go of the
finished builds it keeps for late requests) to free what nobody uses, and looks again.

A charge ends with ``close()`` (once; again is nothing), or with the object it was tied to
(``tie``: a build's source, which lives as long as some request reads it). When a charge of
``TRIM_BYTES`` or more ends, or a failed one of any size, the C allocator is asked to give its
free pages back (glibc's ``malloc_trim``; nothing elsewhere), and again a second later, once
the calls it abandoned have let their pages go: glibc keeps freed memory for reuse otherwise,
and a process that once read a huge report would keep its size for good.
The server also has glibc serve its threads from few arenas (``use_few_arenas``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import weakref
from collections.abc import Callable
from functools import cache

from .errors import Overloaded, ReportTooLarge

MB = 1024 * 1024
# Seconds a refused client is asked to wait: about what the reports in flight take to be sent.
RETRY_AFTER = 5.0
# A charge this large (or a failed one of any size) gives memory back to the system when it ends.
TRIM_BYTES = 16 * MB
SETTING = "STRACT_MEMORY_BUDGET"
# Seconds after which memory is given back once more (see give_back_later).
TRIM_AGAIN = 1.0


class MemoryBudget:
    """The bytes the reports of this process may hold at once (``limit``), and what they hold
    now (``used``); thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0  # the most ``used`` has been
        self.reclaim: Callable[[], object] | None = None
        # Reentrant: a tied charge ends in whichever thread lets its object go, maybe one that
        # holds this lock already.
        self._lock = threading.RLock()

    def charge(self, what: str) -> Charge:
        """A new charge, holding nothing yet, for ``what`` ("the build of /geral")."""
        return Charge(self, what)

    def _take(self, charge: Charge, nbytes: int) -> None:
        """Count ``nbytes`` more for ``charge``, or raise without counting them."""
        if charge.nbytes + nbytes > self.limit:
            raise ReportTooLarge(
                f"{charge.what} needs more than the {size(self.limit)} this server holds for "
                f"all its reports at once ({SETTING})"
            )
        for attempt in range(2):
            with self._lock:
                if self.used + nbytes <= self.limit:
                    self.used += nbytes
                    self.peak = max(self.peak, self.used)
                    charge.nbytes += nbytes
                    return
                used = self.used
            if attempt == 0 and self.reclaim is not None:
                self.reclaim()  # outside the lock: what it lets go ends its charges here
        raise Overloaded(
            f"this server holds {size(used)} of reports, and {charge.what} needs "
            f"{size(nbytes)} more than the {size(self.limit)} it holds at once ({SETTING}); "
            "try again in a moment",
            retry_after=RETRY_AFTER,
        )

    def _give(self, charge: Charge) -> None:
        with self._lock:
            self.used -= charge.nbytes
            charge.nbytes = 0


class Charge:
    """The bytes one piece of work holds, counted against its budget (see the module)."""

    def __init__(self, budget: MemoryBudget, what: str) -> None:
        self.budget = budget
        self.what = what
        self.nbytes = 0
        self.closed = False
        self.failed = False  # the work failed: memory is given back however little it held
        self._held: list[object] = []

    def grow(self, nbytes: int) -> None:
        """Count ``nbytes`` more; ``Overloaded`` (or ``ReportTooLarge``) when they do not fit,
        and then nothing is counted."""
        if nbytes > 0 and not self.closed:
            self.budget._take(self, nbytes)

    def close(self) -> None:
        """The work let its memory go: the charge ends, and a large or failed one asks the
        allocator to give the memory back."""
        if self.closed:
            return
        self.closed = True
        large = self.nbytes >= TRIM_BYTES or self.failed
        self.budget._give(self)
        self._held.clear()
        if large:
            give_back()
            give_back_later()

    def hold(self, thing: object) -> None:
        """Keep ``thing`` alive until this charge ends (an answer, the build it reads)."""
        self._held.append(thing)

    def tie(self, holder: object) -> None:
        """End this charge once ``holder`` is gone (it must take weak references)."""
        weakref.finalize(holder, self.close)


def size(nbytes: int) -> str:
    """A number of bytes as a person reads it: "320 MB", "1.4 MB", "12 KB" (of 1,024)."""
    if nbytes >= 10 * MB:
        return f"{nbytes / MB:,.0f} MB"
    if nbytes >= MB:
        return f"{nbytes / MB:,.1f} MB"
    return f"{max(1, round(nbytes / 1024)):,} KB"


# mallopt's parameter for the most arenas glibc makes (malloc.h's M_ARENA_MAX).
_M_ARENA_MAX = -8
ARENAS = 2


def use_few_arenas() -> bool:
    """Have glibc serve every thread from at most ``ARENAS`` arenas (from now on); False where
    that cannot be asked. By default each thread may get an arena of its own, up to eight per
    CPU, and memory one thread freed is not reused by another: sixteen threads answering
    reports would each keep their own peak, and the process the sum of them."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, ARENAS))


_later_lock = threading.Lock()
_later: threading.Timer | None = None


def give_back_later(delay: float = TRIM_AGAIN) -> None:
    """``give_back`` once more in ``delay`` seconds (one pending at a time): what a failed
    read abandoned (the calls still in flight, each decoding its page in the client's threads)
    is freed after the report's own memory."""
    global _later
    with _later_lock:
        if _later is not None:
            return
        _later = threading.Timer(delay, _give_back_now)
        _later.daemon = True
        _later.start()


def _give_back_now() -> None:
    global _later
    with _later_lock:
        _later = None
    give_back()


def give_back() -> bool:
    """Ask the C allocator to return its free memory to the operating system; False where that
    cannot be asked (not glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)  # ctypes lets go of the GIL for the call: other threads run meanwhile
    return True


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, with ``malloc_trim`` and ``mallopt`` typed; None for another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    return None if libc is None else libc.malloc_trim


__all__ = [
    "ARENAS",
    "MB",
    "RETRY_AFTER",
    "TRIM_BYTES",
    "Charge",
    "MemoryBudget",
    "give_back",
    "give_back_later",
    "size",
    "use_few_arenas",
]
