"""The Stract API client: reads in a bounded pool, retried, shared by identical callers.

Layered the way httpx layers its client: ``transport`` does one bounded HTTP exchange;
``_map_response`` is the one place a status and body become a result or an exception; the retry
loop here decides what another attempt may fix, within the report's deadline; ``flights``
shares identical reads within this process, and the shared backend (``fleet``) across the
processes and hosts pointed at one Redis: one of them reads, the others take its body's bytes.
The backend also holds the upstream's rate budget, spent before every attempt. Retries live in
this loop rather than in urllib3's ``Retry``: the same loop must also retry truncated and
malformed bodies, and stop at the deadline.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from ..config import Settings
from ..errors import (
    DeadlineExceeded,
    TokenRefused,
    UpstreamBadPayload,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..redaction import redact
from .decode import BadJSON, decode_json
from .fleet import BudgetTimeout, SharedError, SharedTimeout, open_backend, read_key
from .flights import Flight, Flights, Handle
from .shape import Shapes
from .transport import (
    Abandoned,
    BadEncoding,
    ConnectFailed,
    CutShort,
    Dropped,
    Exchange,
    Response,
    TimedOut,
    TooLarge,
    Transport,
)

log = logging.getLogger(__name__)

# Retry-After is believed within these bounds: negative means now, and an absurd value
# (inf, 1e400, a date in year 9999) must not overflow anything downstream.
RETRY_AFTER_MAX = 3600.0
# How much of an upstream error message is shown: enough to recognise it, no more.
SUMMARY_CHARS = 80


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix."""

    def __init__(self, error: UpstreamError, retry_after: float | None = None) -> None:
        self.error = error
        self.retry_after = retry_after


class StractClient:
    """Calls the upstream API from a bounded thread pool, with retries and single-flight.

    A context manager: leaving it (or ``close()``) abandons every read in flight.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._transport = Transport(
            settings.api_url,
            connect_timeout=settings.connect_timeout,
            max_body_bytes=settings.max_body_bytes,
            pool=settings.concurrency,
        )
        self._headers = {
            "Authorization": f"Bearer {settings.api_token}",
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": "stract-reports",
        }
        self._executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="upstream")
        self._flights = Flights(settings.cache_ttl, self._start)
        # Redis when STRACT_SHARED_URL is set, else this process alone (at no cost).
        self.shared = open_backend(settings)
        # The last good report's calls, for speculation (in memory, and in Redis when shared).
        self.shapes = Shapes(self.shared)

    def __enter__(self) -> StractClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Abandon every read: queued ones cancelled, sockets shut down, threads let go."""
        self._flights.abandon_all()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._transport.close()
        self.shared.close()

    def where(self, endpoint: str) -> str:
        """The URL of an endpoint without its query (which may hold a token): for errors."""
        return f"{self._transport.where}/{endpoint}"

    def submit(
        self, endpoint: str, params: dict[str, str], *, call: str, deadline: float
    ) -> Handle:
        """Start ``GET endpoint?params`` in the pool, or join an identical read in flight.

        The handle's result is the decoded JSON body (shared: do not mutate it); its error an
        ``UpstreamError``. ``deadline`` (monotonic) is this caller's; the read may run until the
        latest deadline of the callers sharing it, and stops when every caller has cancelled.
        """
        return self._flights.join(endpoint, params, call, deadline)

    # -- the work of one read, in a pool thread ------------------------------------------------

    def _start(self, flight: Flight) -> None:
        try:
            flight.task = self._executor.submit(flight.settle, lambda: self._read_shared(flight))
        except RuntimeError:  # the pool is shut down: the client is closing
            call = flight.call
            flight.settle(_raiser(UpstreamUnavailable(call, "the upstream client is closed")))

    def _read_shared(self, flight: Flight) -> Any:
        """The decoded body, read here or by whichever process of the fleet reads it first.

        Only a good body is handed to other processes: a failure raises in ``read`` and each
        waiter then reads for itself.
        """
        endpoint, params, call = flight.key[0], flight.params, flight.call
        ours: list[Any] = []

        def read() -> bytes:
            body, payload = self._read(flight)
            ours.append(payload)
            return body

        key = read_key(endpoint, params)
        try:
            body = self.shared.read_once(key, flight.deadline, read, flight.abandoned)
        except SharedTimeout:
            raise DeadlineExceeded(
                call, "the report deadline passed while another server process read this call"
            ) from None
        except SharedError:  # every caller left while another process read it
            raise UpstreamUnavailable(call, "abandoned") from None
        if ours:  # read here: decoded already
            return ours[0]
        try:  # checked by the process that read it; decoded again here, as strictly
            return decode_json(body)
        except BadJSON as exc:
            reason = redact(exc.reason, (*self.settings.secrets, params.get("token", "")))
            raise UpstreamBadPayload(call, reason, url=self.where(endpoint)) from None

    def _read(self, flight: Flight) -> tuple[bytes, Any]:
        """Attempts until one succeeds, one fails for good, or the retries or time run out:
        the good body's bytes and its decoded payload."""
        endpoint, params, call = flight.key[0], flight.params, flight.call
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            if flight.abandoned.is_set():
                raise UpstreamUnavailable(call, "abandoned")
            remaining = flight.deadline - time.monotonic()
            if remaining > 0:
                try:  # the fleet's rate budget (and a 429's back-off), even without a limit
                    self.shared.acquire(flight.deadline)
                except BudgetTimeout as exc:
                    raise UpstreamRateLimited(
                        call,
                        "the upstream rate budget (STRACT_UPSTREAM_RPS) has no call free before "
                        "the report deadline",
                        exc.retry_after,
                        url=self.where(endpoint),
                    ) from None
                remaining = flight.deadline - time.monotonic()  # the budget may have waited
            if remaining <= 0:
                raise DeadlineExceeded(call, "the report deadline passed before this call")
            try:
                return self._attempt(flight, endpoint, params, remaining)
            except _Retryable as failure:
                error = failure.error
                if failure.retry_after:  # the upstream said when: every process holds off
                    self.shared.back_off(min(failure.retry_after, self.settings.retry_after_cap))
                if attempt == attempts:
                    raise error from None
                wait = self._backoff(attempt, failure.retry_after, error)
                if time.monotonic() + wait >= flight.deadline:
                    if isinstance(error, UpstreamRateLimited | UpstreamTimeout):
                        raise error from None
                    raise DeadlineExceeded(
                        call, f"no time left to retry after {error.reason}"
                    ) from None
                log.warning(
                    "retrying %s in %.2fs (attempt %d of %d failed: %s)",
                    call,
                    wait,
                    attempt,
                    attempts,
                    error.reason,
                )
                if flight.abandoned.wait(wait):
                    raise UpstreamUnavailable(call, "abandoned") from None
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None, error: UpstreamError) -> float:
        s = self.settings
        if retry_after is not None:
            if retry_after > s.retry_after_cap:
                raise error  # waiting that long would hold the report: give up, pass it on
            return retry_after
        base = min(s.backoff_max, s.backoff * 2 ** (attempt - 1))
        return base * random.uniform(0.5, 1.5)

    def _attempt(
        self, flight: Flight, endpoint: str, params: dict[str, str], remaining: float
    ) -> tuple[bytes, Any]:
        """One exchange, its transport failures in the exception tree; then ``_map_response``:
        the body's bytes and its payload."""
        call, url = flight.call, self.where(endpoint)
        timeout = min(self.settings.timeout, remaining)
        exchange = Exchange()
        flight.exchange = exchange
        if flight.abandoned.is_set():  # abandoned between the check and now
            exchange.cut("abandoned")
        target = f"/{endpoint}?{urlencode(params)}" if params else f"/{endpoint}"
        try:
            response = self._transport.get(
                target, self._headers, timeout=timeout, exchange=exchange
            )
        except TimedOut as exc:
            if exc.limit >= remaining:  # the report's deadline ran out, not this call's timeout
                # No URL, like the deadline errors of the report's own loop: the same cause
                # reads the same whichever side notices it first.
                raise DeadlineExceeded(
                    call, "the report deadline passed while waiting for this call"
                ) from None
            raise _Retryable(UpstreamTimeout(call, exc.reason, url=url)) from None
        except (ConnectFailed, Dropped) as exc:
            raise _Retryable(UpstreamUnavailable(call, exc.reason, url=url)) from None
        except (CutShort, BadEncoding) as exc:
            raise _Retryable(UpstreamBadPayload(call, exc.reason, url=url)) from None
        except TooLarge as exc:
            raise UpstreamBadPayload(call, exc.reason, url=url) from None
        except Abandoned as exc:
            raise UpstreamUnavailable(call, exc.reason, url=url) from None
        finally:
            flight.exchange = None
        # The query goes to the debug log only with its token blanked.
        log.debug(
            "GET %s -> %d (%d bytes)",
            redact(url + target[len(endpoint) + 1 :]),
            response.status,
            len(response.body),
        )
        payload = self._map_response(response, call, url, params.get("token", ""))
        return bytes(response.body), payload

    def _map_response(self, response: Response, call: str, url: str, token: str) -> Any:
        """The one place a status and body become the decoded payload or an exception."""
        status = response.status
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            limited = UpstreamRateLimited(
                call, "rate limited (HTTP 429)", retry_after or 1.0, url=url
            )
            raise _Retryable(limited, retry_after)
        if status >= 500:
            raise _Retryable(UpstreamUnavailable(call, f"HTTP {status}", url=url))
        if status in (401, 403):
            reason = f"the configured API token was refused (HTTP {status})"
            raise TokenRefused(call, reason, url=url)
        if 300 <= status < 400:
            # Following would send the account tokens in the query to wherever it points.
            raise UpstreamRejected(call, f"HTTP {status} redirect, not followed", url=url)
        if not 200 <= status < 300:
            raise UpstreamRejected(call, f"HTTP {status}", url=url)
        secrets = (*self.settings.secrets, token)
        try:
            payload = decode_json(response.body)
        except BadJSON as exc:
            error = UpstreamBadPayload(call, redact(exc.reason, secrets), url=url)
            if exc.transient:
                raise _Retryable(error) from None
            raise error from None
        if isinstance(payload, dict) and "error" in payload:
            said = summary(payload["error"], secrets)
            raise UpstreamRejected(call, f"upstream answered error {said}", url=url)
        return payload


def summary(said: Any, secrets: tuple[str, ...]) -> str:
    """An upstream's error value as a short, printable, quoted text with no secret in it.

    Secrets go first, over the whole text: a cut made before could leave a token's prefix.
    """
    if not isinstance(said, str):
        # Only strings are echoed: anything else is named by its kind.
        if said is None or isinstance(said, bool):
            return f"({json.dumps(said)})"
        return (
            "(an object)"
            if isinstance(said, dict)
            else "(a list)"
            if isinstance(said, list)
            else "(a number)"
        )
    text = redact(said, secrets)
    cut = text[:SUMMARY_CHARS]
    cleaned = "".join(ch if ch.isprintable() else " " for ch in cut)
    return f'"{cleaned}{"…" if len(text) > SUMMARY_CHARS else ""}"'


def parse_retry_after(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), clamped; None when
    absent or unreadable."""
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


def _raiser(error: Exception) -> Any:
    def outcome() -> Any:
        raise error

    return outcome
