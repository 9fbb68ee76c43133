"""Everything that can go wrong while answering for a report, as one exception tree.

    ReportError                       status
    ├── InvalidRequest                  400  an option, value or format the report cannot take
    ├── UnknownReport                   404  the name is no report path (the CLI's export)
    ├── UnsupportedFormat               404  the URL's suffix names no format we render
    ├── UnknownPlatform                 404  the path names no upstream platform
    ├── NoSuchPage                      404  ``_next`` points past the report's last row
    ├── Overloaded                      503  too many reports being built at once, or more
    │                                        memory than the budget holds now (Retry-After)
    ├── ReportTooLarge                  502  a report needs more memory than the whole budget
    └── UpstreamError                        an upstream call failed (after retries)
        ├── UpstreamTimeout             504  no answer in time
        │   └── DeadlineExceeded        504  the whole report ran out of time
        ├── UpstreamUnavailable         502  connection refused or dropped, 5xx, abandoned
        ├── UpstreamRateLimited         503  429 for longer than the retry budget
        ├── UpstreamBadPayload          502  truncated, not JSON, wrong shape, bad pagination,
        │                                    too many pages, body over the byte cap, duplicate
        │                                    keys, too deep, lone surrogate, huge number literal
        └── UpstreamRejected            502  an ``{"error": ...}`` body, a 3xx (never followed)
            │                                or another 4xx
            └── TokenRefused            502  401/403: the configured token was refused

Messages name the call (platform, account name) and, where known, the URL's scheme, host and
path; never its query (it carries the account token), never upstream text beyond a short,
redacted summary. An error kept beyond the work that raised it (a failed build's, a failed
read's) lets go of the frames it came through first (``let_frames_go``): they hold its data.
"""

from __future__ import annotations

import traceback


class ReportError(Exception):
    """A report cannot be produced; ``status`` is the HTTP status to answer with."""

    status = 500
    title = "report failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(ReportError):
    """The request asks for something no report can give (an unknown option or column)."""

    status = 400
    title = "bad request"


class UnknownReport(ReportError):
    """The name is not one of the report paths."""

    status = 404
    title = "unknown report"

    def __init__(self, name: str, reports: str, formats: str) -> None:
        super().__init__(
            f"{name!r} is not a report; the reports are {reports}, each with an optional format "
            f"suffix: {formats}"
        )


class UnsupportedFormat(ReportError):
    """The URL's suffix names no format we render."""

    status = 404
    title = "unsupported format"

    def __init__(self, suffix: str, formats: str) -> None:
        super().__init__(f"no format {suffix!r}; use {formats}")


class NoSuchPage(ReportError):
    """``_next`` points past the last row of the sliced report, like an unknown page."""

    status = 404
    title = "no such page"


class Overloaded(ReportError):
    """This process builds as many reports as it may; the client should come back shortly."""

    status = 503
    title = "too many reports at once"

    def __init__(self, detail: str, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ReportTooLarge(ReportError):
    """A report needs more memory than this process holds for all its reports at once: coming
    back later would not help (a build names the account whose page passed it, as an
    ``UpstreamBadPayload``)."""

    status = 502
    title = "report too large"


class UnknownPlatform(ReportError):
    """The requested platform is not one the upstream lists."""

    status = 404
    title = "unknown platform"

    def __init__(self, platform: str, valid: list[str]) -> None:
        super().__init__(f"no platform {platform!r}; valid platforms: {', '.join(valid)}")
        self.valid = valid


class UpstreamError(ReportError):
    """An upstream call failed; ``call`` says which one, in words, and ``url`` where (scheme,
    host and path: never the query, which holds the account token)."""

    status = 502
    title = "upstream failed"

    def __init__(self, call: str, reason: str, *, url: str = "") -> None:
        super().__init__(f"{call}: {reason}" + (f" ({url})" if url else ""))
        self.call = call
        self.reason = reason
        self.url = url


class UpstreamTimeout(UpstreamError):
    status = 504
    title = "upstream timed out"


class DeadlineExceeded(UpstreamTimeout):
    title = "report deadline exceeded"


class UpstreamUnavailable(UpstreamError):
    title = "upstream unavailable"


class UpstreamRateLimited(UpstreamError):
    status = 503
    title = "upstream rate limit"

    def __init__(self, call: str, reason: str, retry_after: float, *, url: str = "") -> None:
        super().__init__(call, reason, url=url)
        self.retry_after = retry_after


class UpstreamBadPayload(UpstreamError):
    title = "invalid upstream payload"


class UpstreamRejected(UpstreamError):
    title = "upstream rejected the request"


class TokenRefused(UpstreamRejected):
    title = "upstream refused the configured token"


def let_frames_go(error: BaseException) -> None:
    """Let ``error``, and the errors it was raised from or during (``__cause__``,
    ``__context__``: kept even when suppressed), hold no frame that holds data: a
    ``ReportError`` (an expected failure, never logged with its traceback) drops its traceback;
    another error keeps it for the log, with the finished frames' locals cleared. A failed read's
    pages then go with the read, not with the error its callers keep."""
    seen: set[int] = set()
    pending: BaseException | None = error
    while pending is not None and id(pending) not in seen:
        seen.add(id(pending))
        if isinstance(pending, ReportError):
            pending.__traceback__ = None
        else:
            traceback.clear_frames(pending.__traceback__)
        pending = pending.__cause__ or pending.__context__
