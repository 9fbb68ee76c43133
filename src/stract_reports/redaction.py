"""Keeping credentials out of text: error details, exported messages and log records."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_TOKEN_IN_TEXT = re.compile(r"(token=|key=)[^&\s'\"]+", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every ``token=``/``key=`` query value, and each of ``secrets``, as ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Rewrites log records that would carry a credential: a URL with a token or key in its
    query (urllib3's debug lines, access logs), or one of the configured secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """Redact every record that reaches the root logger's handlers (called at start-up)."""
    redacting = RedactingFilter(secrets)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    # Loggers that propagate do not pass through the root logger's own filters, only its
    # handlers'; urllib3 may also have handlers of its own.
    logging.getLogger("urllib3.connectionpool").addFilter(redacting)
