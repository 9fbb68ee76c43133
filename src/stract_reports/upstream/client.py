"""HTTP access to the Stract API: one call with retries, shared by identical concurrent reads.

Retries live in one loop here rather than in urllib3's ``Retry``: the same loop must also retry
truncated and malformed bodies (which urllib3 never sees) and must stop at the report deadline.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

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

log = logging.getLogger(__name__)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode_json(data: bytes) -> Any:
    """Parse a JSON body; decimals stay exact (``Decimal``); NaN and Infinity are refused."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix."""

    def __init__(self, error: UpstreamError, retry_after: float | None = None) -> None:
        self.error = error
        self.retry_after = retry_after


class StractClient:
    """Calls the upstream API from a bounded thread pool, with retries and single-flight."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.concurrency)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Authorization"] = f"Bearer {settings.api_token}"
        # Proxy settings from the environment, read once: requests would otherwise walk
        # os.environ on every call (120 us of a 130 us call, measured).
        self._session.proxies = requests.utils.get_environ_proxies(settings.api_url)
        self._session.trust_env = False
        self._executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="upstream")
        self._lock = threading.Lock()
        # (endpoint, params) -> (future, monotonic time it finished or None while running)
        self._reads: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}

    def close(self) -> None:
        """Stop the worker threads and close pooled connections."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def submit(
        self, endpoint: str, params: dict[str, str], *, call: str, deadline: float
    ) -> Future:
        """Start ``GET endpoint?params`` in the pool, or join an identical read in flight.

        The future's result is the decoded JSON body; its exception an ``UpstreamError``.
        """
        key = (endpoint, tuple(sorted(params.items())))
        now = time.monotonic()
        with self._lock:
            entry = self._reads.get(key)
            if entry is not None:
                future, finished = entry
                if finished is None or now - finished < self.settings.cache_ttl:
                    return future
            future = self._executor.submit(
                self.get_json, endpoint, params, call=call, deadline=deadline
            )
            self._reads[key] = [future, None]
        future.add_done_callback(lambda f: self._finished(key, f))
        return future

    def _finished(self, key: tuple[str, tuple[tuple[str, str], ...]], future: Future) -> None:
        with self._lock:
            entry = self._reads.get(key)
            if entry is None or entry[0] is not future:
                return
            if self.settings.cache_ttl and future.exception() is None:
                entry[1] = time.monotonic()
            else:
                del self._reads[key]

    def get_json(self, endpoint: str, params: dict[str, str], *, call: str, deadline: float) -> Any:
        """One upstream read with bounded retries; raises an ``UpstreamError`` subclass."""
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(call, "the report deadline passed before this call")
            try:
                return self._attempt(endpoint, params, call, remaining)
            except _Retryable as failure:
                error = failure.error
                if attempt == attempts:
                    raise error from None
                wait = self._backoff(attempt, failure.retry_after, error)
                if time.monotonic() + wait >= deadline:
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
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None, error: UpstreamError) -> float:
        s = self.settings
        if retry_after is not None:
            if retry_after > s.retry_after_cap:
                raise error  # waiting that long would hold the report: give up, pass it on
            return retry_after
        base = min(s.backoff_max, s.backoff * 2 ** (attempt - 1))
        return base * random.uniform(0.5, 1.5)

    def _attempt(self, endpoint: str, params: dict[str, str], call: str, remaining: float) -> Any:
        s = self.settings
        timeout = (min(s.connect_timeout, remaining), min(s.timeout, remaining))
        try:
            response = self._session.get(f"{s.api_url}/{endpoint}", params=params, timeout=timeout)
            body = response.content
        except (requests.Timeout, requests.ConnectionError) as exc:
            if not _timed_out(exc):
                reason = (
                    "connection dropped" if "aborted" in str(exc).lower() else "connection failed"
                )
                raise _Retryable(UpstreamUnavailable(call, reason)) from None
            limit = timeout[0] if isinstance(exc, requests.ConnectTimeout) else timeout[1]
            if limit >= remaining:  # the report's deadline ran out, not this call's own timeout
                raise DeadlineExceeded(
                    call, "the report deadline passed while waiting for this call"
                ) from None
            raise _Retryable(UpstreamTimeout(call, f"no answer within {limit:g}s")) from None
        except requests.RequestException:
            raise _Retryable(UpstreamBadPayload(call, "response body cut short")) from None

        status = response.status_code
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            error = UpstreamRateLimited(call, "rate limited (HTTP 429)", retry_after or 1.0)
            raise _Retryable(error, retry_after)
        if status >= 500:
            raise _Retryable(UpstreamUnavailable(call, f"HTTP {status}"))
        if status in (401, 403):
            raise TokenRefused(call, f"the configured API token was refused (HTTP {status})")
        if status >= 300:
            raise UpstreamRejected(call, f"HTTP {status}")
        try:
            payload = decode_json(body)
        except ValueError:
            raise _Retryable(UpstreamBadPayload(call, "response is not valid JSON")) from None
        if isinstance(payload, dict) and "error" in payload:
            # The upstream's own words, minus any credential it might echo back.
            said = json.dumps(payload["error"], default=str, ensure_ascii=False)[:200]
            said = redact(said, (s.api_token, params.get("token", "")))
            raise UpstreamRejected(call, f"upstream answered error {said}")
        return payload


def _timed_out(exc: requests.RequestException) -> bool:
    """Whether a request failed by timing out, including mid-body (which requests reports as
    a ConnectionError wrapping urllib3's ReadTimeoutError)."""
    if isinstance(exc, requests.Timeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)


def _retry_after(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
