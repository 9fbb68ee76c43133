"""The garbage collector paused while a table is read and built, one build at a time."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The garbage collector is paused while a table is read and built: every decoded page allocates
# a dict per row, and every few hundred allocations the collector would walk the young ones
# (most of them already gone: nothing of a read is in a reference cycle, so a page's objects
# go as soon as its columns are made); it catches up once, when the pause ends. The pause is
# process-wide, so one build at a time holds it: with builds overlapping under load, a shared
# pause could keep the collector off for good. A build that finds the pause taken runs with
# the collector on.
_gc_pause = threading.Lock()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the block, if no other build has it off already."""
    if not _gc_pause.acquire(blocking=False):
        yield
        return
    try:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if was_enabled:
                gc.enable()
    finally:
        _gc_pause.release()
