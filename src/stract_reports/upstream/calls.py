"""The calls of one report: a window at a time onto the client, continuations on a queue.

The calling thread runs a small event loop over a queue of finished calls: when a call
finishes, its continuation runs here and starts the calls that were waiting for it. Worker
threads only do HTTP, so a bounded pool cannot deadlock on itself, and no call waits for one
it does not depend on. A list resource is read page by page (page 1 tells how many; the rest in
parallel), each page checked (``_page``). With a remembered shape (``shape``), calls are
issued ahead of the lists that justify them and adopted when the report makes them.

What to call, and what the bodies mean, is ``fetch``'s.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from queue import Empty, SimpleQueue
from typing import Any

from ..config import Settings
from ..errors import DeadlineExceeded, UpstreamBadPayload
from ..redaction import redact
from .client import StractClient
from .flights import Handle
from .shape import Planned

Progress = Callable[[int, int], None]
Key = tuple[str, tuple[tuple[str, str], ...]]  # what makes two calls the same request
# Insight bodies are decoded with their decimals as literal bytes (``decode_json``).
INSIGHTS = "insights"


@dataclass(frozen=True)
class FetchLimits:
    """How far one fetch may go: ``deadline`` seconds from its start, retries included;
    ``window`` calls handed to the client at once; ``max_pages`` pages of one list at most (the
    count comes from the upstream and is not trusted)."""

    deadline: float
    window: int
    max_pages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        """The limits the settings declare: the report deadline, the concurrency, max pages."""
        return cls(settings.deadline, settings.concurrency, settings.max_pages)


class ReportCalls:
    """The calls of one report, and what to do when each finishes.

    Calls wait in a backlog and go to the client a window at a time, so a report with
    thousands of calls neither floods the shared pool ahead of other reports nor leaves much
    to cancel when it fails. Finished calls arrive on a queue: O(1) work each, however many
    are pending. However the run ends, its unfinished calls are cancelled.
    """

    def __init__(self, client: StractClient, limits: FetchLimits, progress: Progress | None):
        self.client = client
        self.deadline = time.monotonic() + limits.deadline
        self.progress = progress
        self.window = limits.window
        self.max_pages = limits.max_pages
        # Calls not yet handed to the client: (endpoint, params, call, then), in order.
        self.backlog: deque[tuple[str, dict[str, str], str, Callable[[Any], None]]] = deque()
        # Handles handed out, in the order started -> (the call, in words; its continuation)
        self.pending: dict[Handle, tuple[str, Callable[[Any], None]]] = {}
        self.finished_calls: SimpleQueue[Handle] = SimpleQueue()
        # Speculation (``speculate``): remembered calls not issued yet, in order; every key
        # the shape predicts; calls issued ahead of the lists that justify them, until adopted
        # or dropped; and whether the shape has shown it changed (then nothing more is issued).
        self.plan: deque[Planned] = deque()
        self.predicted: set[Key] = set()
        self.speculative: dict[Key, Handle] = {}
        self.contradicted = False
        self.made: list[Planned] = []  # every call this report confirmed, in order
        self.made_keys: set[Key] = set()
        self.started = 0
        self.finished = 0

    def call(
        self, endpoint: str, params: dict[str, str], call: str, then: Callable[[Any], None]
    ) -> None:
        """Queue one call; ``then(body)`` runs in this thread when it succeeds."""
        if time.monotonic() >= self.deadline:  # scheduling is work too: stop on time
            raise DeadlineExceeded(call, "the report deadline passed before this call")
        self.backlog.append((endpoint, params, call, then))
        self.started += 1

    def speculate(self, calls: tuple[Planned, ...]) -> None:
        """Speculate with remembered calls: each is issued ahead of the lists that justify it,
        at most ``window`` of them waiting to be adopted at once (``_speculate``), and none
        after the first sign that the shape changed. A shape is a hint: however large or
        stale, it costs at most ``window`` calls beyond the cold read's."""
        self.plan = deque(calls)
        self.predicted = {planned.key for planned in calls}
        self._speculate()

    def _speculate(self) -> None:
        """Issue remembered calls while fewer than ``window`` issued ones wait for adoption."""
        if self.contradicted:
            self.plan.clear()
        while self.plan and not self.contradicted and len(self.speculative) < self.window:
            planned = self.plan.popleft()
            key = planned.key
            if key in self.speculative or key in self.made_keys:
                continue  # remembered twice, or the report made it already
            handle = self.client.submit(
                planned.endpoint,
                dict(planned.params),
                call=planned.call,
                deadline=self.deadline,
                float_literals=planned.endpoint == INSIGHTS,
            )
            self.speculative[key] = handle
            handle.add_done_callback(self._speculation_done)

    def _speculation_done(self, handle: Handle) -> None:
        # In a pool thread. A remembered call that fails (an account or token gone) is a sign
        # the shape changed: nothing more is issued from it (its failure itself never counts).
        # Only a flag is set here; the plan belongs to the report's thread.
        if handle.failed():
            self.contradicted = True

    def _stop_speculating(self) -> None:
        """The shape changed: issue nothing more from it (issued calls may still be adopted)."""
        self.contradicted = True
        self.plan.clear()

    def paged(
        self,
        endpoint: str,
        params: dict[str, str],
        call: str,
        then: Callable[[list[Any]], None] | None,
        *,
        each_page: Callable[[int, list[Any]], None] | None = None,
    ) -> None:
        """Read every page of a list resource, then call ``then`` with all items in order; or,
        with ``each_page``, hand it each page's items (and its number) as the page arrives,
        keeping none.

        The items are the body's list named like the endpoint (``/accounts`` -> ``accounts``).

        Page 1 tells how many pages there are; pages 2..total are then read in parallel.
        A body without ``pagination`` is the only page. More pages than ``max_pages`` is a
        bad payload: the count comes from the upstream and is not trusted.
        """
        pages: dict[int, list[Any]] = {}
        url = self.client.where(endpoint)

        def arrived(number: int, items: list[Any]) -> None:
            if each_page is not None:
                each_page(number, items)
                items = []
            pages[number] = items

        def first_page(body: Any) -> None:
            items, total = _page(body, endpoint, 1, call, url)
            arrived(1, items)
            if total <= 1:
                if then is not None:
                    then(pages[1])
                return
            limit = self.max_pages
            if total > limit:
                raise UpstreamBadPayload(
                    call,
                    f"pagination total is {total}, more than the {limit} pages allowed "
                    "(STRACT_MAX_PAGES)",
                    url=url,
                )
            for number in range(2, total + 1):
                self.call(
                    endpoint,
                    {**params, "page": str(number)},
                    f"{call} (page {number})",
                    partial(later_page, number=number, total=total),
                )

        def later_page(body: Any, *, number: int, total: int) -> None:
            items, page_total = _page(body, endpoint, number, f"{call} (page {number})", url)
            if page_total != total:
                raise UpstreamBadPayload(call, "the number of pages changed while reading", url=url)
            arrived(number, items)
            if len(pages) == total and then is not None:
                then([item for n in range(1, total + 1) for item in pages[n]])

        self.call(endpoint, params, call, first_page)

    def wait(self) -> None:
        """Run continuations as calls finish, until none is left or one fails."""
        try:
            self._fill()
            while self.pending:
                remaining = self.deadline - time.monotonic()
                try:
                    handle = self.finished_calls.get(timeout=max(0.0, remaining))
                except Empty:
                    raise self._deadline_exceeded() from None
                entry = self.pending.pop(handle, None)
                if entry is None:
                    continue  # cancelled by this run already
                entry[1](handle.result())
                self.finished += 1
                if self.progress:
                    self.progress(self.finished, self.started)
                self._fill()
        finally:
            # The first failure (or the deadline) ends the report: nothing more is sent for it,
            # and reads nobody else shares are abandoned.
            self.backlog.clear()
            for handle in self.pending:
                handle.cancel()
            self.pending.clear()
            # Speculation nobody adopted went stale: dropped, its outcome never counts.
            self.plan.clear()
            for handle in self.speculative.values():
                handle.cancel()
            self.speculative.clear()
            # Calls that finished after the end wait in the queue, each holding its body; the
            # queue is held by their futures' callbacks: a cycle, unless emptied here.
            while not self.finished_calls.empty():
                self.finished_calls.get_nowait()

    def _fill(self) -> None:
        """Hand calls from the backlog to the client while the window has room."""
        while self.backlog and len(self.pending) < self.window:
            if time.monotonic() >= self.deadline:
                raise self._deadline_exceeded(self.backlog[0][2])
            endpoint, params, call, then = self.backlog.popleft()
            planned = Planned(endpoint, tuple(params.items()), call)
            self.made.append(planned)
            self.made_keys.add(planned.key)
            if self.predicted and planned.key not in self.predicted:
                self._stop_speculating()  # a call the shape did not foresee: it changed
            # The same request issued ahead is adopted: same page, token and fields.
            handle = self.speculative.pop(planned.key, None) or self.client.submit(
                endpoint,
                params,
                call=call,
                deadline=self.deadline,
                float_literals=endpoint == INSIGHTS,
            )
            self.pending[handle] = (call, then)
            handle.add_done_callback(self.finished_calls.put)
        self._speculate()  # an adopted call leaves room for the next remembered one

    def _deadline_exceeded(self, waiting: str | None = None) -> DeadlineExceeded:
        """The deadline error, naming the oldest call still unanswered."""
        calls = [call for call, _ in self.pending.values()]
        if waiting is not None:
            calls.insert(0, waiting)
        calls += [call for _, _, call, _ in self.backlog][1 if waiting else 0 :]
        others = f" (and {len(calls) - 1} more)" if len(calls) > 1 else ""
        return DeadlineExceeded(
            calls[0], f"the report deadline passed while waiting for this call{others}"
        )


def _page(body: Any, key: str, number: int, call: str, url: str) -> tuple[list[Any], int]:
    """The items of one page and the total number of pages, validated."""
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise UpstreamBadPayload(call, f"expected an object with a {key!r} list", url=url)
    items = body[key]
    if "pagination" not in body:
        return items, 1
    pagination = body["pagination"]
    total = pagination.get("total") if isinstance(pagination, dict) else None
    if type(total) is not int or total < 0:
        shown = _quoted(total)
        raise UpstreamBadPayload(call, f"pagination total is {shown}, not a page count", url=url)
    if total == 0 and items:
        raise UpstreamBadPayload(call, "pagination total is 0 but the page has items", url=url)
    current = pagination.get("current", number)
    if current != number:
        shown = _quoted(current)
        raise UpstreamBadPayload(call, f"asked for page {number}, got page {shown}", url=url)
    return items, total


def _quoted(value: Any) -> str:
    """A value of the upstream's, as Python writes it, for a message: secrets are masked before
    it is quoted and cut (a total of ``"<the bearer>"`` must not show 19 of its characters)."""
    text = repr(redact(value)) if isinstance(value, str) else redact(repr(value))
    return text[:20]


__all__ = ["FetchLimits", "Progress", "ReportCalls"]
