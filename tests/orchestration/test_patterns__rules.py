"""Patterns (orchestration.definitions.patterns): RE2, whole-value matches,
refusals in words, nothing printed."""

from __future__ import annotations

import pytest

from orchestration.definitions.patterns import PatternError, compile_pattern, full_match


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [("[a-z]+", "abc", True), ("[a-z]+", "abc1", False), ("[a-z]+", "1abc", False),
     ("[a-z]+", "", False), ("[a-z]*", "", True), ("a|ab", "ab", True),
     ("é+", "éé", True), ("[0-9]{3}", "1234", False), ("(?i)abc", "ABC", True)],
)  # fmt: skip
def test_the_whole_value_must_match(pattern, value, matches) -> None:
    assert full_match(pattern, value) is matches


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [(r"(a)\1", "invalid escape sequence: \\1"), (r"(?=a)b", "invalid perl operator: (?="),
     ("[a-", "missing ]: [a-"), ("a{2,1}", "invalid repetition size: {2,1}")],
)  # fmt: skip
def test_what_re2_refuses_is_refused_with_its_reason(pattern, reason, capfd) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern)
    assert str(refused.value) == f"not a pattern this engine accepts (RE2 syntax): {reason}"
    assert capfd.readouterr() == ("", "")  # RE2 prints nothing of its own


def test_a_pattern_that_backtracks_in_pythons_re_answers() -> None:
    # Python's re would not finish this; RE2 is linear in the input.
    assert not full_match("(a+)+$", "a" * 50_000 + "!")
