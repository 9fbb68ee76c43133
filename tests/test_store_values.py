"""Ad values as exact text: every value the strict decoder can produce comes back equal, of
the same type and with the same digits, by itself and through a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stract_reports.records import Account, AccountData, Field, Platform, PlatformData
from stract_reports.store import Store
from stract_reports.store.values import (
    UnrecordableValue,
    account_digest,
    decode_rows,
    encode_row,
    encode_value,
)
from stract_reports.upstream.decode import decode_json


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, with the same digits (``Decimal('5.50')`` is not ``5.5``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


# What ``decode_json`` yields for a JSON number literal: an int, or a Decimal of the literal.
literals = st.from_regex(
    r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)
numbers = literals.map(lambda text: decode_json(text.encode()))
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
scalars = st.one_of(numbers, texts, st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
rows = st.lists(st.lists(values, min_size=1, max_size=6).map(tuple), max_size=6)


@given(rows)
def test_rows_come_back_exactly(original: list[tuple[Any, ...]]) -> None:
    texts_ = [encode_row(row) for row in original]
    assert all(json.loads(text) is not None for text in texts_)  # plain JSON, for any reader
    assert same(decode_rows(texts_), original)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("5.50"), "5.50"),
        (Decimal("1E+2"), "1E+2"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("1E-7"), "1E-7"),
        (Decimal("5"), "5E0"),  # from the literal 5e0: an integer literal would read back int
        (Decimal("-0"), "-0E0"),
        (Decimal("-0.0"), "-0.0"),
        (886, "886"),
        (-3, "-3"),
        (True, "true"),
        (None, "null"),
        ('Anúncio "especial", v2\n', '"Anúncio \\"especial\\", v2\\n"'),
        ({"a": [Decimal("1.10"), 2]}, '{"a":[1.10,2]}'),
    ],
)
def test_each_kind_of_value_has_one_exact_text(value: Any, text: str) -> None:
    assert encode_value(value) == text
    assert same(decode_rows([f"[{text}]"])[0][0], value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "a value of type float"),
        (Decimal("NaN"), "NaN is not a number"),
        (Decimal("Infinity"), "Infinity is not a number"),
        (Decimal("1" * 99 + ".5"), "a number of 101 characters"),
        (10**101, "a number of 102 characters"),
        ({1: "x"}, "an object key of type int"),
        (b"bytes", "a value of type bytes"),
    ],
)
def test_a_value_that_would_not_come_back_the_same_is_refused(value: Any, message: str) -> None:
    with pytest.raises(UnrecordableValue, match=message):
        encode_row((1, value))


def test_the_account_digest_tells_types_digits_keys_and_fields_apart() -> None:
    base = account_digest(["a"], ["1"], None, [(Decimal("5.5"),)])
    others = [
        account_digest(["a"], ["1"], None, [(Decimal("5.50"),)]),
        account_digest(["a"], ["1"], None, [(True,)]),
        account_digest(["a"], ["2"], None, [(Decimal("5.5"),)]),
        account_digest(["b"], ["1"], None, [(Decimal("5.5"),)]),
        account_digest(["a"], ["1"], b"given", [(Decimal("5.5"),)]),
    ]
    assert len({base, *others}) == 6
    assert base == account_digest(["a"], ["1"], None, [(Decimal("5.5"),)])
    assert len(base) == 16
    # A digest of the bodies covers the ad ids and values: only the field keys are added.
    given = account_digest(["a"], ["1"], b"body", [(Decimal("5.5"),)])
    assert given == account_digest(["a"], ["9"], b"body", [])
    assert given != account_digest(["b"], ["1"], b"body", [(Decimal("5.5"),)])


_moments = count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_rows_come_back_exactly_through_a_real_store(
    store: Store, original: list[tuple[Any, ...]]
) -> None:
    # One store for every example: each is a new snapshot, read back as of its own time.
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_moments))
    width = max((len(row) for row in original), default=0)
    padded = [row + (None,) * (width - len(row)) for row in original]
    fields = [Field(f"f{n}", f"F{n}") for n in range(width)]
    account = AccountData(Account("1", "Conta", "token"), padded)
    data = PlatformData(Platform("p", "P"), fields, [account])
    store.snapshots.record([data.platform], [data], at=at, trigger="record")
    back = store.snapshots.as_of(at).data[0].accounts[0].rows
    assert same(back, padded)
