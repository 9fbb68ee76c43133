"""The strict decoder's fast way (C callables and whole-body passes) gives what the exact way
(a hook on every literal and every object) gives: the same document, or the same refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stract_reports.upstream.decode import BadJSON, _parse, decode_json

PROPERTY = settings(max_examples=80, deadline=None)

keys = st.sampled_from(["a", "b", "id", "k:v", "spend", "\\u003a"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.floats(),  # JSON number literals, NaN and Infinity among them
    st.sampled_from(["", "Promo: verão", "x", "1e5", 'a"b', "\\"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


def encode(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except BadJSON as exc:
        return ("refused", exc.reason, exc.transient)


@PROPERTY
@given(documents)
def test_any_document_decodes_as_the_exact_way(document: Any) -> None:
    text = encode(document)
    assert outcome(lambda: decode_json(text.encode())) == outcome(lambda: _parse(text, exact=True))


@st.composite
def repeated(draw: st.DrawFn) -> str:
    """A body with one object repeating a key, at some depth, among other content."""
    key = draw(keys)
    one = f'{{"{key}": 1, "x": "a: b", "{key}": 2}}'
    wrappers = [
        "{}",
        '{{"insights": [{{"clicks": 1}}, {}]}}',
        '{{"p": {{"q": {}}}}}',
        '[{{"a": 1}}, {}]',
        '{{"insights": [{}], "pagination": {{"current": 1, "total": 1}}}}',
    ]
    return draw(st.sampled_from(wrappers)).format(one)


@PROPERTY
@given(repeated())
def test_a_repeated_key_is_refused_at_any_depth(text: str) -> None:
    with pytest.raises(BadJSON) as caught:
        decode_json(text.encode())
    assert "repeats the key" in caught.value.reason
    assert outcome(lambda: decode_json(text.encode())) == outcome(lambda: _parse(text, exact=True))


@pytest.mark.parametrize(
    "text",
    [
        '{"insights": [{"a": 1, "a": 2}]}',  # repeated in an item: one colon more than pairs
        '{"insights": [{"a": "x:y"}], "b": 1, "b": 2}',  # a colon in a string hides nothing
        '{"a": {"b": {"c": 1, "c": 2}}}',  # deeper than the walk: decoded the exact way
        '[{"a": 1}, {"b": 1, "b": 1}]',
    ],
)
def test_repeated_keys_the_counting_could_miss_are_refused(text: str) -> None:
    with pytest.raises(BadJSON, match="repeats the key"):
        decode_json(text.encode())


def test_long_literals_and_exact_numbers() -> None:
    assert decode_json(b'{"a": 5.50, "b": [1e3, 12]}') == {
        "a": Decimal("5.50"),
        "b": [Decimal("1E+3"), 12],
    }
    with pytest.raises(BadJSON, match="longer than 100"):
        decode_json(b'{"a": 1' + b"0" * 100 + b"}")
    with pytest.raises(BadJSON, match="longer than 100"):
        decode_json(b'{"a": 1.' + b"0" * 100 + b"}")
    # A long run of digits in a string is no literal: decoded the exact way, accepted.
    assert decode_json(b'{"a": "' + b"1" * 200 + b'"}') == {"a": "1" * 200}


def test_float_literals_may_come_back_as_their_bytes() -> None:
    body = b'{"a": 5.50, "b": [1e3, -0.0, 12], "c": "x"}'
    assert decode_json(body, float_literals=True) == {
        "a": b"5.50",
        "b": [b"1e3", b"-0.0", 12],
        "c": "x",
    }
    colon = b'{"a": 5.50, "c": "x: y"}'  # decoded the exact way: the same answer
    assert decode_json(colon, float_literals=True) == {"a": b"5.50", "c": "x: y"}
    with pytest.raises(BadJSON, match="longer than 100"):
        decode_json(b'{"a": 1.' + b"0" * 100 + b"}", float_literals=True)
