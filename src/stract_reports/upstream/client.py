"""The Stract API client: reads in a bounded pool, retried, shared by identical callers.

Layered the way httpx layers its client. A read, from the caller to the wire, each step one
method of ``StractClient`` below, in this order:

    submit(endpoint, params, call, deadline) -> Handle
        joins an identical read in flight in this process (``flights``), or starts one:
    _start(flight)         queued in the bounded pool
    _run(flight)           in a pool thread: ends the flight with the payload or the error
    _read(flight)          read here, or taken from whichever process of the fleet reads it
                           first (``fleet``: through Redis when shared); a body another process
                           read is decoded again here, as strictly (read here if it fails)
    _read_here(flight)     attempts until one succeeds, one fails for good, or the retries or
                           the time run out (``retry.RetryPolicy``); each first takes a slot of
                           the rate budget
    _attempt(flight)       one exchange (``transport``), its failures in the exception tree
    _map_response(...)     the one place a status and body become a payload or an exception
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
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
    let_frames_go,
)
from ..redaction import redact
from .decode import BadJSON, decode_json
from .fleet import BudgetTimeout, SharedBackend, SharedError, SharedTimeout, open_backend, read_key
from .flights import Flight, Flights, Handle
from .retry import RetryPolicy
from .shape import Shapes
from .transport import (
    Abandoned,
    BadEncoding,
    ConnectFailed,
    CutShort,
    Dropped,
    Exchange,
    ExchangeError,
    Response,
    TimedOut,
    TooLarge,
    Transport,
)

log = logging.getLogger(__name__)

# How much of an upstream error message is shown: enough to recognise it, no more.
SUMMARY_CHARS = 80
# An exchange's failure, as the report's error kind (a timeout is told apart: see _attempt).
_EXCHANGE_ERRORS: dict[type[ExchangeError], type[UpstreamError]] = {
    ConnectFailed: UpstreamUnavailable,
    Dropped: UpstreamUnavailable,
    CutShort: UpstreamBadPayload,
    BadEncoding: UpstreamBadPayload,
    TooLarge: UpstreamBadPayload,
    Abandoned: UpstreamUnavailable,
}


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix."""

    def __init__(self, error: UpstreamError, retry_after: float | None = None) -> None:
        self.error = error
        self.retry_after = retry_after


class StractClient:
    """Calls the upstream API from a bounded thread pool, with retries and single-flight.

    ``transport`` (one bounded exchange) and ``backend`` (what the fleet shares) are made from
    the settings unless given; the client owns them either way and closes them. A context
    manager: leaving it (or ``close()``) abandons every read in flight.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        backend: SharedBackend | None = None,
    ) -> None:
        self.settings = settings
        self.retry = RetryPolicy.from_settings(settings)
        self._transport = transport or Transport(
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
        self._flights = Flights(settings.cache_ttl)
        # Redis when STRACT_SHARED_URL is set, else this process alone (at no cost).
        self.shared = backend or open_backend(settings)
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
        self,
        endpoint: str,
        params: dict[str, str],
        *,
        call: str,
        deadline: float,
        float_literals: bool = False,
    ) -> Handle:
        """Start ``GET endpoint?params`` in the pool, or join an identical read in flight.

        The handle's result is the decoded JSON body (shared: do not mutate it); its error an
        ``UpstreamError``. ``deadline`` (monotonic) is this caller's; the read may run until the
        latest deadline of the callers sharing it, and stops when every caller has cancelled.
        ``float_literals``: decimals come as the bytes of their literal (``decode_json``).
        """
        handle, new = self._flights.join(
            endpoint, params, call, deadline, float_literals=float_literals
        )
        if new is not None:
            self._start(new)
        return handle

    # -- the work of one read ------------------------------------------------------------------

    def _start(self, flight: Flight) -> None:
        """Queue the read in the pool (or fail it at once: the client is closing)."""
        try:
            flight.task = self._executor.submit(self._run, flight)
        except RuntimeError:  # the pool is shut down
            flight.fail(UpstreamUnavailable(flight.call, "the upstream client is closed"))

    def _run(self, flight: Flight) -> None:
        """In a pool thread: the read, its payload or its error handed to every caller."""
        try:
            payload = self._read(flight)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting callers
            # The error outlives this read (its callers keep it): not the frames it came
            # through, which hold the flight and its body.
            let_frames_go(exc)
            flight.fail(exc)
        else:
            flight.succeed(payload)
        finally:
            # Handed over (or nobody waits any more): the body lives in the result alone, and
            # goes with it, even when the read was abandoned.
            flight.payload = Flight.UNREAD
            flight.exchange = None

    def _read(self, flight: Flight) -> Any:
        """The decoded body, read here or by whichever process of the fleet reads it first.

        Only a good body is handed to other processes: a failure raises in ``_read_here`` and
        each waiter then reads for itself.
        """
        endpoint, params, call = flight.key[0], flight.params, flight.call
        key = read_key(endpoint, params)
        read_here = partial(self._read_here, flight)
        try:
            body = self.shared.read_once(key, flight.deadline, read_here, flight.abandoned)
        except SharedTimeout:
            raise DeadlineExceeded(
                call, "the report deadline passed while another server process read this call"
            ) from None
        except SharedError:  # every caller left while another process read it
            raise UpstreamUnavailable(call, "abandoned") from None
        if flight.payload is not Flight.UNREAD:  # read here: decoded already
            return flight.payload
        try:  # checked by the process that read it; decoded again here, as strictly
            return decode_json(body, float_literals=flight.float_literals)
        except BadJSON:
            # Sealed by a server of ours, yet not what we would accept (another version?): not
            # the upstream's fault, so it is read here rather than answered as a bad payload.
            log.warning("%s: a body another server process read does not decode here", call)
            self._read_here(flight)
            return flight.payload

    def _read_here(self, flight: Flight) -> bytes:
        """Attempts until one succeeds, one fails for good, or the retries or time run out: the
        good body's bytes (its payload kept on ``flight``)."""
        call, url = flight.call, self.where(flight.key[0])
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            if flight.abandoned.is_set():
                raise UpstreamUnavailable(call, "abandoned")
            remaining = self._take_budget(flight, url)
            try:
                body, flight.payload = self._attempt(flight, remaining)
                return body
            except _Retryable as failure:
                error = failure.error
                if failure.retry_after:  # the upstream said when: every process holds off
                    self.shared.back_off(min(failure.retry_after, policy.retry_after_cap))
                if attempt == policy.attempts:
                    raise error from None
                wait = policy.wait(attempt, failure.retry_after)
                if wait is None:  # waiting that long would hold the report: pass it on
                    raise error from None
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
                    policy.attempts,
                    error.reason,
                )
                if flight.abandoned.wait(wait):
                    raise UpstreamUnavailable(call, "abandoned") from None
        raise AssertionError("unreachable")

    def _take_budget(self, flight: Flight, url: str) -> float:
        """A slot of the fleet's rate budget (and a 429's back-off), even without a limit: the
        seconds left to the deadline then; ``DeadlineExceeded`` when none are."""
        remaining = flight.deadline - time.monotonic()
        if remaining > 0:
            try:
                self.shared.acquire(flight.deadline)
            except BudgetTimeout as exc:
                raise UpstreamRateLimited(
                    flight.call,
                    "the upstream rate budget (STRACT_UPSTREAM_RPS) has no call free before "
                    "the report deadline",
                    exc.retry_after,
                    url=url,
                ) from None
            remaining = flight.deadline - time.monotonic()  # the budget may have waited
        if remaining <= 0:  # the report waits for this call: say it as the report's loop does
            raise DeadlineExceeded(
                flight.call, "the report deadline passed while waiting for this call"
            )
        return remaining

    def _attempt(self, flight: Flight, remaining: float) -> tuple[bytes, Any]:
        """One exchange, its transport failures in the exception tree; then ``_map_response``:
        the body's bytes and its payload."""
        endpoint, params, call = flight.key[0], flight.params, flight.call
        url = self.where(endpoint)
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
        except ExchangeError as exc:
            error = _EXCHANGE_ERRORS[type(exc)](call, exc.reason, url=url)
            if self.retry.retries_exchange(exc):
                raise _Retryable(error) from None
            raise error from None
        finally:
            flight.exchange = None
        # The query goes to the debug log only with its token blanked.
        log.debug(
            "GET %s -> %d (%d bytes)",
            redact(url + target[len(endpoint) + 1 :]),
            response.status,
            len(response.body),
        )
        token, literals = params.get("token", ""), flight.float_literals
        payload = self._map_response(response, call, url, token, float_literals=literals)
        return bytes(response.body), payload

    def _map_response(
        self, response: Response, call: str, url: str, token: str, *, float_literals: bool = False
    ) -> Any:
        """The one place a status and body become the decoded payload or an exception."""
        failed = self._status_error(response, call, url)
        if failed is not None:
            error, retry_after = failed
            if self.retry.retries_status(response.status):
                raise _Retryable(error, retry_after)
            raise error
        secrets = (*self.settings.secrets, token)
        try:
            payload = decode_json(response.body, float_literals=float_literals)
        except BadJSON as exc:
            error = UpstreamBadPayload(call, redact(exc.reason, secrets), url=url)
            if exc.transient:
                raise _Retryable(error) from None
            raise error from None
        if isinstance(payload, dict) and "error" in payload:
            said = summary(payload["error"], secrets)
            raise UpstreamRejected(call, f"upstream answered error {said}", url=url)
        return payload

    def _status_error(
        self, response: Response, call: str, url: str
    ) -> tuple[UpstreamError, float | None] | None:
        """What a status other than 2xx means, and the Retry-After of a 429; None for 2xx."""
        status = response.status
        if status == 429:
            retry_after = self.retry.retry_after(response.headers.get("Retry-After"))
            limited = UpstreamRateLimited(
                call, "rate limited (HTTP 429)", retry_after or 1.0, url=url
            )
            return limited, retry_after
        if status >= 500:
            return UpstreamUnavailable(call, f"HTTP {status}", url=url), None
        if status in (401, 403):
            reason = f"the configured API token was refused (HTTP {status})"
            return TokenRefused(call, reason, url=url), None
        if 300 <= status < 400:
            # Following would send the account tokens in the query to wherever it points.
            return UpstreamRejected(call, f"HTTP {status} redirect, not followed", url=url), None
        if not 200 <= status < 300:
            return UpstreamRejected(call, f"HTTP {status}", url=url), None
        return None


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
