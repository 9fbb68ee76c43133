"""How a rendered report travels: validators (ETag, If-None-Match -> 304) and gzip.

Reports are real time, so every request still reads the upstream; what a 304 saves is
sending (and the client parsing) the same table again. The policy, in one place:

- ``Cache-Control: private, no-cache``: a client may keep a report but must revalidate it on
  every use (``no-store`` would forbid keeping it, so no ETag could ever be sent back), and no
  shared cache may keep a report (it carries ad spend, and may be fetched with ``?key=``).
- An answer's ETag is computed before its first byte, over what it is made of: the content
  digest of the upstream read, the report, the format and the options. CSV, TSV and NDJSON
  are deterministic (the same of all these gives the same bytes), so theirs is strong. JSON,
  HTML and XLSX carry the time they were generated, so theirs is weak (``W/``): a 304 means
  "the same report", which is what the client kept.
- Bodies travel as they are rendered, a chunk at a time, gzip-compressed as they go when the
  client accepts it (a body under ``GZIP_MIN_BYTES`` in whole, uncompressed). A gzip-encoded
  answer has its own tag (``-gz``): strong tags differ per content coding. An
  ``If-None-Match`` with either variant matches.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from typing import cast

from flask import Request, Response

CACHE_CONTROL = "private, no-cache"
# Below this many bytes gzip's header and the client's work cost more than they save.
GZIP_MIN_BYTES = 1024
# zlib level 5 rather than the default 6: 1.8x faster for 2-7% more bytes (300,000-row /geral:
# CSV 24 MB -> 5.3 MB in 0.39 s instead of 5.2 MB in 0.70 s; JSON 74 MB -> 6.9 MB in 0.45 s).
GZIP_LEVEL = 5
_GZIP_SUFFIX = "-gz"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib writes the gzip header and trailer (no file time)


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
    chunks: Iterator[bytes] = iter(cast(Iterable[bytes], response.response))
    first = _leading_bytes(chunks, GZIP_MIN_BYTES)
    if len(first) < GZIP_MIN_BYTES:  # the whole body, and a small one: as it is
        response.set_data(first)
    elif _accepts_gzip(request):
        response.response = _gzipped(first, chunks)
        response.headers["Content-Encoding"] = "gzip"
        etag = gzipped
    else:
        response.response = _chained(first, chunks)
    response.headers["ETag"] = etag
    return response


def _leading_bytes(chunks: Iterator[bytes], enough: int) -> bytes:
    """Chunks taken until there are ``enough`` bytes, or no more chunks."""
    taken = bytearray()
    for chunk in chunks:
        taken += chunk
        if len(taken) >= enough:
            break
    return bytes(taken)


def _chained(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _gzipped(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """The body gzip-compressed a chunk at a time: the same bytes whatever the chunks (no flush
    but the last, and a header with no time in it), as a strong tag promises."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    yield compressor.compress(first)
    for chunk in rest:
        packed = compressor.compress(chunk)
        if packed:
            yield packed
    yield compressor.flush()


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
