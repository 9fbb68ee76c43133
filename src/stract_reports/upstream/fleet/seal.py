"""Seals on what one process writes to Redis for others to trust: the bodies it hands over and
the warm shape. Whoever can write to Redis but lacks the API token cannot forge them.

A sealed value is ``VERSION``, the time it expires (µs since the epoch, 8 bytes), an HMAC-SHA256
and the data. The HMAC is keyed with a secret derived from the bearer token (``link``'s scope
secret: scrypt, then HMAC), which only the server processes have; it covers the name the value
is stored under (a read's digest, or ``shape``), the expiry and the data. So a value cannot be
moved to another read, nor kept past its expiry (plus ``SKEW`` for hosts' clocks): a writer can
at most replay a body of the very same call within the seconds it was meant to live.

With the public challenge token there is no secret to key a seal with (everyone has the token):
``Seal.for_token`` gives None, and then bodies and shapes are not shared at all.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time

from ...config import PUBLIC_API_TOKEN

VERSION = b"\x01"
SKEW = 5.0  # seconds two hosts' clocks may disagree
_HEAD = struct.Struct(">Q")  # the expiry, µs since the epoch
_MAC_BYTES = 32


class Seal:
    """Seals and opens values with a key only the server processes can derive."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"seal", hashlib.sha256).digest()

    @classmethod
    def for_token(cls, api_token: str, secret: bytes) -> Seal | None:
        """A seal keyed from ``secret`` (derived from ``api_token``), or None when the token is
        the public one: no secret to key it with."""
        return None if api_token == PUBLIC_API_TOKEN else cls(secret)

    def close(self, name: str, data: bytes, ttl: float) -> bytes:
        """``data`` sealed under ``name``, good for ``ttl`` seconds."""
        head = _HEAD.pack(round((time.time() + ttl) * 1e6))
        return VERSION + head + self._mac(name, head, data) + data

    def open(self, name: str, sealed: bytes) -> bytes | None:
        """The data of a value sealed under ``name`` that has not expired; None for anything
        else (another name, expired, altered, or not sealed at all)."""
        start = len(VERSION) + _HEAD.size
        if len(sealed) < start + _MAC_BYTES or not sealed.startswith(VERSION):
            return None
        head, mac = sealed[1:start], sealed[start : start + _MAC_BYTES]
        data = sealed[start + _MAC_BYTES :]
        if not hmac.compare_digest(mac, self._mac(name, head, data)):
            return None
        (expires,) = _HEAD.unpack(head)
        if expires / 1e6 + SKEW < time.time():
            return None
        return data

    def _mac(self, name: str, head: bytes, data: bytes) -> bytes:
        signer = hmac.new(self._key, name.encode() + b"\0" + head, hashlib.sha256)
        signer.update(data)
        return signer.digest()
