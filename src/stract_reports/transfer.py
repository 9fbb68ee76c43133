"""How a rendered report travels: validators (ETag, If-None-Match -> 304) and gzip.

Reports are real time, so every request still reads the upstream; what a 304 saves is
sending (and the client parsing) the same table again. The policy, in one place:

- ``Cache-Control: private, no-cache``: a client may keep a report but must revalidate it on
  every use (``no-store`` would forbid keeping it, so no ETag could ever be sent back), and no
  shared cache may keep a report (it carries ad spend, and may be fetched with ``?key=``).
- The ETag of a CSV is strong: the same table gives the same bytes. JSON and HTML carry the
  time they were generated, so their ETag is weak (``W/``), computed over the table and the
  options, not the bytes: a 304 means "the same report", which is what the client kept.
- A gzip-encoded answer has its own tag (``-gz``): strong tags differ per content coding. An
  ``If-None-Match`` with either variant matches.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable

from flask import Request, Response

CACHE_CONTROL = "private, no-cache"
# Below this many bytes gzip's header and the client's work cost more than they save.
GZIP_MIN_BYTES = 1024
# zlib level 5 rather than the default 6: 1.8x faster for 2-7% more bytes (300,000-row /geral:
# CSV 24 MB -> 5.3 MB in 0.39 s instead of 5.2 MB in 0.70 s; JSON 74 MB -> 6.9 MB in 0.45 s).
GZIP_LEVEL = 5
_GZIP_SUFFIX = "-gz"


def entity_tag(*parts: bytes | str, weak: bool) -> str:
    """An ETag value (quoted, ``W/`` when weak) digesting ``parts`` in order."""
    return entity_tag_of(parts, weak=weak)


def entity_tag_of(parts: Iterable[bytes | str], *, weak: bool) -> str:
    """``entity_tag`` over parts produced one at a time: none is kept after it is digested."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))  # no two splits of the bytes hash alike
        digest.update(data)
    tag = f'"{digest.hexdigest()[:32]}"'
    return f"W/{tag}" if weak else tag


def deliver(request: Request, response: Response, etag: str) -> Response:
    """``response`` as sent: 304 when the client holds ``etag``, else gzip-encoded when the
    client accepts it; always with the validator and the cache policy."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.vary.add("Accept-Encoding")
    gzipped = _gzip_variant(etag)
    if request.if_none_match.contains_weak(_bare(etag)) or request.if_none_match.contains_weak(
        _bare(gzipped)
    ):
        return _not_modified(response, gzipped if _accepts_gzip(request) else etag)
    body = response.get_data()
    if _accepts_gzip(request) and len(body) >= GZIP_MIN_BYTES:
        # mtime=0: the same body compresses to the same bytes, as a strong tag promises.
        response.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
        etag = gzipped
    response.headers["ETag"] = etag
    return response


def _accepts_gzip(request: Request) -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _gzip_variant(etag: str) -> str:
    return etag[:-1] + _GZIP_SUFFIX + '"'


def _bare(etag: str) -> str:
    # werkzeug's ETags compares unquoted values; weakness does not matter to If-None-Match.
    return etag.removeprefix("W/").strip('"')


def _not_modified(response: Response, etag: str) -> Response:
    """A 304 with the headers a 200 would carry for caching, and no body.

    No Content-Type: a browser updates its kept copy's headers from a 304, and an HTML page's
    Content-Security-Policy (added for text/html answers) names the nonce of the page it kept,
    not a fresh one.
    """
    not_modified = Response(status=304)
    del not_modified.headers["Content-Type"]
    for name in ("Cache-Control", "Vary", "Content-Disposition"):
        if name in response.headers:
            not_modified.headers[name] = response.headers[name]
    not_modified.headers["ETag"] = etag
    return not_modified
