"""Definition errors as an editor shows them: at their line and column, in
reading order, one typo as one error."""

from __future__ import annotations

import pytest

from orchestration import services
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


def errors_of(source: str) -> list[str]:
    return [e.located() for e in services.draft_errors(source)[1]]


def line_of(text: str, source: str = PURCHASE_SOURCE) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def test_a_misspelt_step_name_is_one_error_at_its_line() -> None:
    bad = PURCHASE_SOURCE.replace("approve: place_order", "approve: place_ordr")
    (only,) = errors_of(bad)  # not also "place_order/approved unreachable"
    line = line_of("approve: place_ordr", bad)
    column = bad.splitlines()[line - 1].index("place_ordr") + 1  # the value, not its key
    assert only.startswith(f"line {line}, column {column}: ")
    assert only.endswith("steps.manager_approval.outcomes.approve: unknown step 'place_ordr'")


def test_a_misspelt_required_field_is_one_error_naming_the_field_meant() -> None:
    bad = PURCHASE_SOURCE.replace("    assignees:", "    asignees:", 1)
    (only,) = errors_of(bad)
    assert only == (f"line {line_of('asignees:', bad)}, column 5: steps.manager_approval.asignees:"
                    " unknown field (did you mean 'assignees'?)")  # fmt: skip


def test_errors_come_in_reading_order_and_a_parse_error_keeps_its_position() -> None:
    bad = PURCHASE_SOURCE.replace("name: Purchase approval", "name: Purchase approval\nowner: me")
    bad = bad.replace("type: approval", "type: aproval")
    found = errors_of(bad)
    assert [e.split(": ", 2)[1] for e in found] == ["owner", "steps.manager_approval.type"]
    lines = [int(e.split(",")[0].removeprefix("line ")) for e in found]
    assert lines == sorted(lines) and lines[0] == line_of("owner: me", bad)
    broken = PURCHASE_SOURCE.replace("steps:", "steps:\n  x: [", 1)
    (parse,) = errors_of(broken)
    position = parse.split(":", 1)[0]  # "line 11, column 9", from the parser's own mark
    assert "YAML does not parse" in parse and parse.endswith(f"({position})")
    assert int(position.split(",")[0].removeprefix("line ")) > line_of("x: [", broken)


def test_a_step_unreachable_for_another_reason_is_still_reported() -> None:
    bad = PURCHASE_SOURCE.replace("steps:\n", "steps:\n  orphan: {type: end, result: x}\n", 1)
    assert [e.split(": ", 1)[1] for e in errors_of(bad)] == ["steps.orphan: unreachable from start"]


def test_first_causes_go_by_codes_not_words() -> None:
    from django.utils import translation

    bad = PURCHASE_SOURCE.replace("    assignees:", "    asignees:", 1)
    with translation.override("de"):
        (only,) = errors_of(bad)
    assert only.endswith(
        "steps.manager_approval.asignees: unbekanntes Feld (meinten Sie 'assignees'?)"
    )


def test_every_schema_message_is_listed_for_translation() -> None:
    import json

    from orchestration.definitions import schema_messages, validate

    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if "x-message" in node:
                found.add(node["x-message"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(json.dumps(validate.schema())))
    assert found == set(schema_messages.MESSAGES)
