"""Budgets for outside data (orchestration.limits), at their edges."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration import limits


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -3, 2.5, "", "é ✓ 𝄞", [], {}, (1, "a"), {"a": [1, {"b": None}]}],
)
def test_plain_json_passes(value) -> None:
    assert limits.json_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": "x\x00y"}, "a: text with a NUL character"),
        ({"a\x00": 1}, "a key with a NUL character"),
        ({"a": [{"b\x00": 1}]}, "a[0]: a key with a NUL character"),
        ({"a": ["ok", "\ud800"]}, "a[1]: text with a lone surrogate (not valid Unicode)"),
        ({"\udfff": 1}, "a key with a lone surrogate (not valid Unicode)"),
        ({"a": {1: "x"}}, "a: key 1 is not text"),
        ({"n": float("nan")}, "n: nan is not a finite number"),
        ([float("-inf")], "[0]: -inf is not a finite number"),
        ({"a": {"b": [0, {"c": {1, 2}}]}}, "a.b[1].c: set is not a JSON value"),
        (b"bytes", "bytes is not a JSON value"),
        ("nul \x00", "text with a NUL character"),
    ],
)
def test_the_first_problem_is_named_at_its_path(value, problem) -> None:
    assert limits.json_problem(value) == problem


def test_a_path_given_prefixes_every_problem() -> None:
    assert (
        limits.json_problem({"b": "\x00"}, "variables") == "variables.b: text with a NUL character"
    )
    assert limits.json_problem([1, "\x00"], "data") == "data[1]: text with a NUL character"


def test_the_first_of_several_problems_in_order() -> None:
    assert limits.json_problem({"a": "ok", "b": float("nan"), "c": "\x00"}) == (
        "b: nan is not a finite number"
    )


def test_depth_up_to_the_cap_passes_one_more_is_refused(settings) -> None:
    settings.ORCHESTRATION_MAX_JSON_DEPTH = 4
    assert limits.max_json_depth() == 4
    assert limits.json_problem(nested(4)) is None
    assert limits.json_problem(nested(5)) == (
        "x.x.x.x.x: nested deeper than 4 (ORCHESTRATION_MAX_JSON_DEPTH)"
    )
    assert limits.json_problem([[[[[1]]]]]) == (
        "[0][0][0][0][0]: nested deeper than 4 (ORCHESTRATION_MAX_JSON_DEPTH)"
    )


def test_the_defaults() -> None:
    assert (limits.max_json_bytes(), limits.max_json_depth(), limits.max_text_length()) == (
        256 * 1024, 32, 10_000,
    )  # fmt: skip
    assert limits.json_problem(nested(32)) is None
    assert limits.json_problem(nested(33)) is not None


def test_size_counts_utf8_bytes_of_the_json(settings) -> None:
    value = {"é": "é" * 10}  # {"é": "éééééééééé"}: 19 characters, 30 bytes
    assert len(json.dumps(value, ensure_ascii=False)) == 19
    settings.ORCHESTRATION_MAX_JSON_BYTES = 30
    assert limits.json_problem(value) is None
    settings.ORCHESTRATION_MAX_JSON_BYTES = 29
    assert limits.json_problem(value) == (
        "30 bytes as JSON, more than 29 (ORCHESTRATION_MAX_JSON_BYTES)"
    )
    assert limits.json_problem(value, "data") == (
        "data: 30 bytes as JSON, more than 29 (ORCHESTRATION_MAX_JSON_BYTES)"
    )


def test_text_length_is_a_setting(settings) -> None:
    settings.ORCHESTRATION_MAX_TEXT_LENGTH = 7
    assert limits.max_text_length() == 7


def test_storable_text_replaces_nul_and_cuts_to_the_limit() -> None:
    assert limits.storable_text("a\x00b") == "a\ufffdb"
    assert limits.storable_text("x" * 600) == "x" * 500
    assert limits.storable_text("é" * 10, limit=3) == "ééé"
    assert limits.storable_text("abc", limit=3) == "abc"


SAFE_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                    max_size=5)  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=12,
)


@given(JSON)
def test_storable_json_passes_and_round_trips(value) -> None:
    assert limits.json_problem(value) is None
    assert json.loads(json.dumps(value, allow_nan=False)) == value


@given(JSON)
def test_a_nul_anywhere_is_found(value) -> None:
    assert limits.json_problem({"wrap": [value, "\x00"]}) == "wrap[1]: text with a NUL character"
