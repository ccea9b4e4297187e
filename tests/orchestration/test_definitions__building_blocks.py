"""Durations, expressions, the allowlist, the diagram and the diff. Pure: no database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from orchestration.definitions import expressions
from orchestration.definitions.allowlist import host_allowed
from orchestration.definitions.diagram import render_svg
from orchestration.definitions.diff import source_diff_html
from orchestration.definitions.durations import parse_duration
from orchestration.definitions.validate import schema
from tests.orchestration.factories import purchase_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("PT30S", timedelta(seconds=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("P2W", timedelta(weeks=2)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert re.match(schema()["$defs"]["duration"]["pattern"], text)


@pytest.mark.parametrize(
    "text", ["", "30", "30 s", "s", "P", "PT", "P1M", "P1Y", "1.5h", "-1s", "\u0661d", "PT\u0662H"]
)
def test_bad_durations_are_refused_by_parser_and_schema_alike(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
    assert not re.match(schema()["$defs"]["duration"]["pattern"], text)


def test_expressions_evaluate_over_variables() -> None:
    variables = {"amount": 1500, "manager_approval": {"comment": "ok"}, "tags": ["a", "b"]}
    assert expressions.evaluate("amount > 1000 and 'a' in tags", variables) is True
    assert expressions.evaluate("manager_approval.comment", variables) == "ok"
    assert expressions.evaluate("len(tags) + max(1, 2)", variables) == 4
    assert expressions.evaluate("true and not false", {}) is True


def test_expressions_refuse_unknown_names_at_evaluation() -> None:
    with pytest.raises(expressions.ExpressionError, match="unknown variable 'nope'"):
        expressions.evaluate("nope > 1", {})


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id')",
        "().__class__",
        "open('/etc/passwd')",
        "[x for x in y]",
        "a if b else (lambda: 1)",
        "x.__dict__",
    ],
)
def test_unsafe_expressions_do_not_parse(text: str) -> None:
    with pytest.raises(expressions.ExpressionError):
        expressions.parse(text)


def test_names_ignores_functions_and_constants() -> None:
    node = expressions.parse("len(items) > limit and ok == true and x.y")
    assert expressions.names(node) == {"items", "limit", "ok", "x"}


def test_templates_render_placeholders() -> None:
    text = expressions.render(
        "Approve {{ item }} for {{ amount * 2 }}", {"item": "desk", "amount": 5}
    )
    assert text == "Approve desk for 10"


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("https://api.example.com/x", ["api.example.com"], True),
        # A bare host allows the scheme's default port only.
        ("https://api.example.com:8443/x", ["api.example.com"], False),
        ("https://api.example.com:443/x", ["api.example.com"], True),
        ("http://api.example.com/x", ["api.example.com"], True),
        ("http://api.example.com:443/x", ["api.example.com"], False),
        ("https://api.example.com:8443/x", ["api.example.com:8443"], True),
        ("http://[::1]:8080/x", ["[::1]"], False),
        ("http://[::1]:8080/x", ["[::1]:8080"], True),
        ("https://api.example.com:8443/x", ["api.example.com:443"], False),
        ("http://127.0.0.1:8000/x", ["127.0.0.1:8000"], True),
        ("http://127.0.0.1:8001/x", ["127.0.0.1:8000"], False),
        ("https://api.example.com.evil.org/", ["api.example.com"], False),
        ("https://user@api.example.com/", ["api.example.com"], True),
        ("https://API.Example.com/", ["api.example.com"], True),
        ("file:///etc/passwd", ["api.example.com"], False),
    ],
)
def test_host_allowlist(url: str, allowed: list[str], expected: bool) -> None:
    assert host_allowed(url, allowed) is expected


def test_diagram_draws_every_step_and_edge_and_escapes_text() -> None:
    spec = purchase_spec()
    spec["steps"]["approved"]["name"] = "<script>alert(1)</script>"
    svg = render_svg(spec, highlight={"manager_approval"})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for step_id in spec["steps"]:
        assert f'data-step="{step_id}"' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'class="step current" data-step="manager_approval"' in svg
    assert svg.count("marker-end") == 6  # 6 edges in the purchase approval
    assert "amount &gt; 1000" in svg


def test_diff_shows_changed_lines_escaped() -> None:
    html = source_diff_html("a: 1\nb: <x>\n", "a: 2\nb: <x>\n", old_label="v1", new_label="v2")
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert 'class="diff_chg"' in html
    assert source_diff_html("same", "same", old_label="v1", new_label="v2") == ""
