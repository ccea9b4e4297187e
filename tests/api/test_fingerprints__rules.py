"""What counts as the same request for an Idempotency-Key (api.fingerprints)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.fingerprints import request_fingerprint

URL = "/api/v1/instances"


def test_the_fingerprint_is_fixed() -> None:
    # Kept keys stay comparable across releases only while this holds.
    expected = hashlib.sha256(b'POST\0/api/v1/instances\0json\0{"a":1,"b":"\xc3\xa9"}').hexdigest()
    assert request_fingerprint("POST", URL, '{"b": "é", "a": 1}'.encode()) == expected
    raw = hashlib.sha256(b"POST\0/api/v1/instances\0raw\0not json").hexdigest()
    assert request_fingerprint("POST", URL, b"not json") == raw


def test_the_same_json_spelled_otherwise_is_the_same_request() -> None:
    one = request_fingerprint("POST", URL, b'{"a": 1, "b": [1, 2]}')
    assert request_fingerprint("post", URL, b'{\n  "b": [1,2],\n  "a": 1\n}') == one
    assert request_fingerprint("POST", URL, b'{"a": 1, "b": [2, 1]}') != one
    assert request_fingerprint("POST", URL, b'{"a": "1", "b": [1, 2]}') != one


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("POST", URL, b"{}"), ("PUT", URL, b"{}")),
        (("POST", URL, b"{}"), ("POST", URL + "/", b"{}")),
        (("POST", URL, b"{}"), ("POST", URL, b"[]")),
        (("POST", URL, b'"{}"'), ("POST", URL, b"{}")),
        (("POST", URL, b"1"), ("POST", URL, b"1.0")),
        (("POST", URL, b"\xff"), ("POST", URL, b"\xfe")),
        # A raw body never collides with a JSON one that reads the same.
        (("POST", URL, b"json\0{}"), ("POST", URL, b"{}")),
    ],
)
def test_another_method_path_or_body_is_another_request(a, b) -> None:
    assert request_fingerprint(*a) != request_fingerprint(*b)


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[" * 100_000, b'{"a": "\\ud800"}', b"NaN"])
def test_any_body_has_a_fingerprint(body) -> None:
    assert len(request_fingerprint("POST", URL, body)) == 64


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=10,
)  # fmt: skip


@given(JSON, st.integers(0, 4), st.booleans())
def test_spacing_and_key_order_never_matter(value, indent, sort) -> None:
    import json

    compact = json.dumps(value).encode()
    other = json.dumps(value, indent=indent, sort_keys=sort, ensure_ascii=sort).encode()
    assert request_fingerprint("POST", URL, other) == request_fingerprint("POST", URL, compact)
