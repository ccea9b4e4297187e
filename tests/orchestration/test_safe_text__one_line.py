"""Text from people on one line where a line break would start a header or a
forged log record (orchestration/safe_text.py)."""

from __future__ import annotations

import logging

import pytest

from orchestration.safe_text import OneLineFormatter, has_break, one_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [("desk\nX-Injected: yes", "desk X-Injected: yes"), ("a\r\n\r\nb", "a b"),
     ("a\u2028b\u2029c\x85d", "a b c d"), ("tab\there", "tab here"), ("  é ✓  ", "é ✓"),
     ("bell\x07", "bell")],
)  # fmt: skip
def test_line_breaks_and_controls_fold_to_one_space(text, expected) -> None:
    assert one_line(text) == expected


def test_has_break_tells_text_that_would_fold() -> None:
    assert has_break("a\nb") and has_break("a\u2028b") and has_break("a\x00")
    assert not has_break("plain text, é ✓")


def test_a_cut_to_a_length() -> None:
    assert one_line("x\n" * 10, 5) == "x x x"


def test_a_log_record_stays_one_line_and_keeps_its_traceback() -> None:
    formatter = OneLineFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "title %s", ("a\nINFO forged",),
                               None)  # fmt: skip
    assert formatter.format(record) == "ERROR title a INFO forged"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed\nhere", (),
                                   sys.exc_info())  # fmt: skip
    lines = formatter.format(record).splitlines()
    assert lines[0] == "ERROR failed here" and lines[-1] == "ValueError: boom"
