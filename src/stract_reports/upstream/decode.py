"""Strict JSON for upstream bodies: what the standard parser would accept silently, refused.

Refused: invalid UTF-8, duplicate keys in an object (the parser would keep the last and drop
an account's ads without a word), NaN and Infinity, number literals longer than
``MAX_NUMBER_CHARS``, lone surrogates (they crash UTF-8 encoding later, far from the cause) and
nesting too deep for the parser. Decimals stay exact (``Decimal``).

No Python code runs per value. The parser is the standard one with C callables only
(``parse_float=Decimal``); the rules are checked by passes over the whole body:

- Literal length: one translation of the body's bytes marks every character a number literal
  can hold; no run of more than ``MAX_NUMBER_CHARS`` of them means no literal is longer.
- Duplicate keys: every key of an object is followed by one colon, so a body whose colons all
  belong to the keys of the objects decoded (it has no other colon, in a string or in an object
  nested deeper than the items of a list) repeats none: ``count(":")`` equals the sum of
  those objects' sizes. A body where that does not hold (an ad named "Promo: verão") is decoded
  again with a hook that looks at every object's pairs.
- Surrogates: a scan, followed by a walk only when a surrogate escape is present.

Either pass finding something to look at sends the body to the exact, slower way (the hooks),
which gives the same answers and the same messages. On a 5,000-row insights page (0.9 MB) the
passes cost about 5 % of the parse, where the per-value hooks cost 80 %.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from ..redaction import redact

# Longer literals are no ad metric; refusing them here keeps the parser's own cost bounded
# (the report layer bounds the values themselves, per field).
MAX_NUMBER_CHARS = 100

# A number literal holds only these: a run of more than MAX_NUMBER_CHARS of them (in a literal,
# or in a string, which is then looked at the exact way) is the only place a long one can be.
_LITERAL_CHARS = bytes(ord("0") if chr(i) in "0123456789+-.eE" else ord(" ") for i in range(256))
_LONG_LITERAL = b"0" * (MAX_NUMBER_CHARS + 1)

# Any \uD800-\uDFFF escape. Escaped backslashes may make this a false alarm: it only decides
# whether the exact (slower) check runs.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BadJSON(ValueError):
    """The body is not JSON this program accepts; ``reason`` says why, in a few words."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # Garbage that another attempt may fix (an HTML error page, a hiccup), unlike a
        # well-formed document that breaks a rule: that one comes back the same.
        self.transient = transient


def decode_json(data: bytes | bytearray, *, float_literals: bool = False) -> Any:
    """Parse an upstream body under the rules above; raises ``BadJSON``.

    ``float_literals``: a number with a fraction or an exponent comes back as the bytes of its
    literal (``b"5.50"``) instead of a Decimal, for a caller that converts whole columns of
    them at once (``reports.columnar``); integers are ints either way.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJSON("response is not valid UTF-8") from None
    if _LONG_LITERAL in data.translate(_LITERAL_CHARS):
        document = _parse(text, exact=True, literals=float_literals)
    else:
        document = _parse(text, exact=False, literals=float_literals)
        if not _no_repeated_keys(document, text):
            document = _parse(text, exact=True, literals=float_literals)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(document):
        raise BadJSON("response has a lone surrogate in a string")
    return document


def _parse(text: str, *, exact: bool, literals: bool = False) -> Any:
    """``json.loads`` with C callables only, or (``exact``) with the hooks that check every
    literal's length and every object's keys; ``literals``: floats as their literal's bytes."""
    try:
        if not exact:
            floats = str.encode if literals else Decimal
            return json.loads(text, parse_float=floats, parse_constant=_refuse_constant)
        return json.loads(
            text,
            parse_float=_literal if literals else _decimal,
            parse_int=_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object,
        )
    except BadJSON:
        raise
    except RecursionError:
        raise BadJSON("response nests too deeply") from None
    except ValueError:
        raise BadJSON("response is not valid JSON", transient=True) from None


def _no_repeated_keys(document: Any, text: str) -> bool:
    """True when no object of ``document`` can have repeated a key: the body's colons are as
    many as the pairs of the objects found at the top, in its values and in lists there (each
    pair has its colon; a colon in a string or in a deeper object makes this False)."""
    colons = text.count(":")
    if not colons:
        return True
    if type(document) is list:  # a list at the top: its objects, as a list's in an object
        return sum(map(len, [item for item in document if type(item) is dict])) == colons
    if type(document) is not dict:
        return False  # no object, yet colons: in strings
    pairs = len(document)
    for value in document.values():
        if type(value) is dict:
            pairs += len(value)
        elif type(value) is list:
            objects = [item for item in value if type(item) is dict]
            pairs += sum(map(len, objects))
    return pairs == colons


def _decimal(literal: str) -> Decimal:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BadJSON(f"response has a number literal longer than {MAX_NUMBER_CHARS} characters")
    return Decimal(literal)


def _literal(literal: str) -> bytes:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BadJSON(f"response has a number literal longer than {MAX_NUMBER_CHARS} characters")
    return literal.encode()


def _int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise BadJSON(f"response has a number literal longer than {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _refuse_constant(name: str) -> Any:
    raise BadJSON(f"response has {name}, which is not a number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise BadJSON(f"response repeats the key {_short(duplicate)} in one object")
    return obj


def _short(text: str) -> str:
    """A key, quoted, cut to a few characters and printable (it goes into an error message):
    secrets are masked before the cut, which could otherwise leave a piece of one."""
    cut = redact(text)[:40]
    return json.dumps(cut if cut.isprintable() else cut.encode("unicode_escape").decode("ascii"))


def _has_lone_surrogate(document: Any) -> bool:
    """Whether any string (key or value) holds a surrogate that is not half of a pair."""
    stack = [document]  # iterative: the parser accepted the depth, the walk must too
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodes(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
