"""An ad's values as exact text and back, and the digests that tell an account has not changed.

A row (``records.Row``: decoded values in field order) is stored as a JSON array whose numbers
keep the digits the API sent: an ``int`` as itself, a ``Decimal`` by ``str()`` (``5.50`` stays
``5.50``, ``1E+2`` stays ``1E+2``), with ``E0`` added where ``str()`` alone would read back
as an integer (``Decimal("5")``, from a literal like ``5e0``, is written ``5E0``). Reading back
uses the upstream's strict decoder (``decode_json``): the same values, of the same types, with
the same digits. Anything else (a float, a NaN, a number longer than the decoder accepts) is
refused when recording, never stored as something that reads back different.

Encoding is near C speed: each value's encoder is looked up by its exact type and applied with
``map``; only Decimals go through a (short) Python function: about 2 µs per 10-value row. An
account's digest (when the fetch layer did not give one) is a SHA-256 of the rows' ``repr``,
which tells ``5.5`` from ``5.50`` and ``1`` from ``True``.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ..records import Row
from ..upstream.decode import MAX_NUMBER_CHARS, decode_json

_encode_text: Callable[[str], str] = json.encoder.encode_basestring


class UnrecordableValue(ValueError):
    """A value that would not read back the same (see the module)."""


def _decimal(value: Decimal, _str: Callable[[Decimal], str] = Decimal.__str__) -> str:
    text = _str(value)
    if len(text) <= MAX_NUMBER_CHARS and ("." in text or "E" in text):
        return text  # the common case, kept short: it runs for every Decimal
    if not value.is_finite():
        raise UnrecordableValue(f"{text} is not a number JSON can hold")
    if "." not in text and "E" not in text:
        text += "E0"
    if len(text) > MAX_NUMBER_CHARS:
        raise UnrecordableValue(f"a number of {len(text)} characters")
    return text


def _int(value: int) -> str:
    text = int.__repr__(value)
    if len(text) > MAX_NUMBER_CHARS:
        raise UnrecordableValue(f"a number of {len(text)} characters")
    return text


def _nested(value: Any) -> str:
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if type(key) is not str:
                raise UnrecordableValue(f"an object key of type {type(key).__name__}")
            parts.append(_encode_text(key) + ":" + encode_value(item))
        return "{" + ",".join(parts) + "}"
    return "[" + ",".join(map(encode_value, value)) + "]"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: _encode_text,
    int: _int,
    Decimal: _decimal,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): "null".format,  # "null".format(None) == "null", at C speed
    dict: _nested,
    list: _nested,
}
# The same, with ints unchecked (C speed): ``encode_rows`` checks long ones afterwards.
_FAST = {**_ENCODERS, int: int.__repr__}
# Any int of more than MAX_NUMBER_CHARS characters has a run of this many digits.
_LONG_DIGITS = re.compile(f"[0-9]{{{MAX_NUMBER_CHARS}}}")


def encode_value(value: Any) -> str:
    """One decoded value as exact JSON text."""
    try:
        encoder = _ENCODERS[type(value)]
    except KeyError:
        raise UnrecordableValue(f"a value of type {type(value).__name__}") from None
    return encoder(value)


def encode_row(row: Row) -> str:
    """A row as a JSON array of exact texts (see the module)."""
    return "[" + ",".join(map(encode_value, row)) + "]"


def encode_rows(rows: Sequence[Row]) -> list[str]:
    """Every row's text (``encode_row``), at C speed for the usual values: a value that would
    not come back the same raises ``UnrecordableValue`` all the same."""
    call, fast = operator.call, _FAST.__getitem__
    try:
        texts = ["[" + ",".join(map(call, map(fast, map(type, row)), row)) + "]" for row in rows]
    except KeyError:  # a value of no known type: the exact path names it
        return list(map(encode_row, rows))
    if any(map(_LONG_DIGITS.search, texts)):  # perhaps a long int, perhaps a long string
        return list(map(encode_row, rows))
    return texts


def decode_rows(texts: Sequence[str], *, literals: bool = False) -> list[Row]:
    """Rows back from their texts, in one pass of the strict decoder; ``literals``: a number
    with a fraction or an exponent as its literal's bytes (``b"5.50"``), as a live read's
    pages hold them (``records.exact`` makes it the Decimal)."""
    if not texts:
        return []
    body = ("[" + ",".join(texts) + "]").encode("utf-8")
    values = decode_json(body, float_literals=literals)
    return list(map(tuple, values))


def rows_digest(rows: object) -> bytes:
    """A digest of an account's rows (and ad keys), by their ``repr``."""
    return hashlib.sha256(_text_bytes(repr(rows))).digest()


def account_digest(
    field_keys: Sequence[str],
    ad_keys: Sequence[str] | None,
    given: bytes | None,
    rows: Sequence[Row],
) -> bytes:
    """What the store compares to skip an unchanged account: the platform's field keys (a
    reordered field list reorders every stored row) and either the fetch layer's digest of the
    insight bodies (which hold the ad ids too) or our own of the ad keys and rows. 16 bytes."""
    digest = hashlib.sha256(_text_bytes(json.dumps(list(field_keys))))
    if given is not None:
        digest.update(b"given:" + given)
    else:
        digest.update(b"rows:" + rows_digest((ad_keys, rows)))
    return digest.digest()[:16]


def _text_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def blob_digest(body: str) -> bytes:
    """The address of a content-addressed list."""
    return hashlib.sha256(_text_bytes(body)).digest()[:16]
