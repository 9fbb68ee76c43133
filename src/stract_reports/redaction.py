"""Keeping credentials out of text: error details, exported messages and log records.

One registry per process holds every secret the process knows: the bearer token and the access
keys (pinned at start by ``create_app`` and the CLI) and every account token it reads (as the
accounts are parsed, and as a warm shape is loaded from Redis). ``redact`` masks all of them in
a message, whole, wherever they occur; callers redact before they cut, ``repr`` or quote a
value, so no cut can leave a piece of a token behind. The sinks (error bodies and pages, log
records, the CLI's failure line, the access log) redact again. ``redact`` also masks the id of
a saved view in its path (``/v/***``): the id is the view's credential.

Matching costs one pass over the text whatever the number of secrets: every secret is indexed
by its first ``MIN_SECRET`` characters, the text's windows of that length are looked up in the
index, and only a hit is searched for whole. Values shorter than ``MIN_SECRET`` are not
secrets this registry can tell from ordinary words (masking them would cut words: ``/he***lthz``)
and are not registered. The registry keeps at most ``MAX_SECRETS`` account tokens, forgetting
the ones least recently read; pinned secrets are never forgotten.

Log lines also get ``printable``: a client's path or an upstream's text on one line, its
control characters escaped.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable

MASK = "***"
# Shorter values cannot be told from ordinary text; this is also the window looked up.
MIN_SECRET = 8
# Account tokens remembered at most (about 200 bytes each with their index entries).
MAX_SECRETS = 50_000
# Long texts are scanned in chunks of this many characters, so the window set stays small.
_CHUNK = 4096

# A token= or key= query value: a parameter of a query or a word of a text, never the end of
# another word (``monkey=``) nor a piece of a path (``/key=x``).
_TOKEN_IN_TEXT = re.compile(r"(?:^|(?<=[?&;\s'\"]))(token=|key=)[^&\s'\"]+", re.IGNORECASE)
# A saved view's id, as its URL carries it (``store.keys.new_secret``: 32 random bytes, URL-safe
# base64): ``/v/<id>`` is masked wherever a text shows it.
VIEW_ID = r"[A-Za-z0-9_-]{43}"
_VIEW_IN_TEXT = re.compile(rf"(/v/){VIEW_ID}(?![A-Za-z0-9_-])")
_SECRET_NAMES = frozenset({"token", "key"})


class SecretRegistry:
    """Every secret a process knows, indexed to be found in a text in one pass."""

    def __init__(self, limit: int = MAX_SECRETS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        # Unpinned secrets, least recently registered first -> the forms indexed for them.
        self._recent: dict[str, tuple[str, ...]] = {}
        # Each form (a secret as written raw, or escaped by repr or JSON) by its first
        # MIN_SECRET characters: tuples, not sets, as nearly every prefix has one form.
        self._by_prefix: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._pinned) + len(self._recent)

    def add(self, secrets: Iterable[str], *, pinned: bool = False) -> None:
        """Register ``secrets`` (values shorter than ``MIN_SECRET`` are skipped); unpinned ones
        are forgotten, least recently registered first, beyond ``limit``."""
        with self._lock:
            for secret in secrets:
                if not isinstance(secret, str) or len(secret) < MIN_SECRET:
                    continue
                if secret in self._pinned:
                    continue
                forms = self._recent.pop(secret, None)
                if pinned:
                    self._pinned.add(secret)
                    if forms is None:
                        self._index(_forms(secret))
                    continue
                if forms is None:
                    forms = _forms(secret)
                    self._index(forms)
                self._recent[secret] = forms  # the most recent, last
            while len(self._recent) > self.limit:
                oldest = next(iter(self._recent))
                self._unindex(self._recent.pop(oldest))

    def find(self, text: str) -> list[tuple[int, int]]:
        """Where secrets occur in ``text``: (start, stop) spans, unsorted, maybe overlapping."""
        m = MIN_SECRET
        hits: set[str] = set()
        for begin in range(0, max(len(text) - m + 1, 0), _CHUNK):
            chunk = text[begin : begin + _CHUNK + m - 1]
            windows = {chunk[i : i + m] for i in range(len(chunk) - m + 1)}
            with self._lock:
                index = self._by_prefix
                for window in windows:
                    if window in index:
                        hits.update(index[window])
        spans = []
        for form in hits:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        return spans

    def _index(self, forms: tuple[str, ...]) -> None:
        for form in forms:
            same = self._by_prefix.get(form[:MIN_SECRET], ())
            if form not in same:
                self._by_prefix[form[:MIN_SECRET]] = (*same, form)

    def _unindex(self, forms: tuple[str, ...]) -> None:
        for form in forms:
            if form in self._pinned or form in self._recent:
                continue  # another secret written the same way: still to be found
            prefix = form[:MIN_SECRET]
            same = tuple(f for f in self._by_prefix.get(prefix, ()) if f != form)
            if same:
                self._by_prefix[prefix] = same
            else:
                self._by_prefix.pop(prefix, None)


def _forms(secret: str) -> tuple[str, ...]:
    """A secret as it may appear in a message: raw, and inside ``repr`` or JSON quotes."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    return tuple(form for form in forms if len(form) >= MIN_SECRET)


# The process's registry: every secret it has seen.
SECRETS = SecretRegistry()


def register(secrets: Iterable[str], *, pinned: bool = False) -> None:
    """Remember ``secrets`` (account tokens as they are read; pinned: the configured ones) so
    that every message of this process is redacted against them."""
    SECRETS.add(secrets, pinned=pinned)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret this process knows, each of ``secrets``, every
    ``token=``/``key=`` query value and every saved view's id in a ``/v/<id>`` path as
    ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _TOKEN_IN_TEXT.sub(r"\1***", mask_known(text))
    return _VIEW_IN_TEXT.sub(r"\1***", text) if "/v/" in text else text


def mask_known(text: str) -> str:
    """``text`` with every secret this process knows as ``***`` (and nothing else changed)."""
    spans = SECRETS.find(text)
    return _masked(text, spans) if spans else text


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (merged where they overlap or touch) replaced by one mask."""
    spans.sort()
    parts: list[str] = []
    done = 0
    start, stop = spans[0]
    for next_start, next_stop in spans[1:]:
        if next_start <= stop:
            stop = max(stop, next_stop)
            continue
        parts += [text[done:start], MASK]
        done, start, stop = stop, next_start, next_stop
    parts += [text[done:start], MASK, text[stop:]]
    return "".join(parts)


def mask_query(query: str) -> str:
    """A raw query string with the value of each ``key`` and ``token`` parameter as ``***``
    (whole values only: other parameters and the path are left as they are)."""
    if "=" not in query:
        return query
    pairs = query.split("&")
    for number, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and name.lower() in _SECRET_NAMES:
            pairs[number] = f"{name}={MASK}"
    return "&".join(pairs)


def printable(text: str) -> str:
    """``text`` safe for one log line: control characters (NUL, CR, LF, ESC, ...) as escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class RedactingFilter(logging.Filter):
    """Rewrites log records that would carry a credential: a URL with a token or key in its
    query (urllib3's debug lines, access logs), or any secret the process knows, in the
    message and in the traceback the record carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """Pin ``secrets`` (the configured ones) and redact every record that reaches the root
    logger's handlers (called at start-up)."""
    register(secrets, pinned=True)
    redacting = RedactingFilter()
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    # Loggers that propagate do not pass through the root logger's own filters, only its
    # handlers'; urllib3 may also have handlers of its own.
    urllib3 = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactingFilter) for f in urllib3.filters):
        urllib3.addFilter(redacting)
