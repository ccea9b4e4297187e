"""Start variables and form data: refused field by field, nothing changed."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.exceptions import InvalidInput
from orchestration.models import HumanTask, ProcessInstance
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

FORM = """
key: form
name: Form
variables:
  code: {type: string, pattern: "(a+)+$"}
  tags: {type: array, items: {type: string, max_length: 3}}
  blob: {type: object}
  n: {type: number}
start: ask
steps:
  ask:
    type: approval
    assignees: {users: [boss]}
    form:
      - {name: note, type: text}
      - {name: essay, type: textarea}
      - {name: when, type: date}
      - {name: score, type: number}
    outcomes: {ok: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def form(roles) -> None:
    make_user("boss")
    publish(FORM)


def start_errors(**variables) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        services.instance_start(key="form", variables=variables, actor=None)
    assert not ProcessInstance.objects.exists()
    return raised.value.errors


def test_start_variables_within_budget(form, settings) -> None:
    assert start_errors(blob={"a": "nul \x00"}) == {
        "variables": ["blob.a: text with a NUL character"]
    }
    assert start_errors(n=float("nan")) == {"variables": ["n: nan is not a finite number"]}
    assert start_errors(n=float("inf")) == {"variables": ["n: inf is not a finite number"]}
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    (message,) = start_errors(blob=deep)["variables"]
    assert message.endswith(": nested deeper than 32 (ORCHESTRATION_MAX_JSON_DEPTH)")
    settings.ORCHESTRATION_MAX_JSON_BYTES = 100
    assert start_errors(blob={"text": "x" * 200}) == {
        "variables": ["222 bytes as JSON, more than 100 (ORCHESTRATION_MAX_JSON_BYTES)"]
    }


def test_array_items_are_checked_against_their_declaration(form) -> None:
    assert start_errors(tags=["ok", "long", 3]) == {
        "variables.tags": ["[1]: must be at most 3 characters", "[2]: expected string, got integer"]
    }


def test_a_pattern_that_would_backtrack_for_ever_answers_at_once(form) -> None:
    # (a+)+$ against this takes Python's re minutes; RE2 answers in microseconds.
    assert start_errors(code="a" * 5000 + "!") == {"variables.code": ["must match (a+)+$"]}
    instance = services.instance_start(key="form", variables={"code": "aaa"}, actor=None)
    assert instance.status == "waiting"


def decide_errors(task: HumanTask, **data) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as raised:
        services.task_complete(task_id=task.pk, outcome="ok", data=data, actor=None)
    task.refresh_from_db()
    assert task.status == "open"
    return raised.value.errors


def test_form_data_within_budget(form, settings) -> None:
    services.instance_start(key="form", variables={}, actor=None)
    task = HumanTask.objects.get()
    assert decide_errors(task, note={"not": "text"}) == {"data.note": ["expected text"]}
    assert decide_errors(task, when="1st of May") == {
        "data.when": ["expected an ISO 8601 date (YYYY-MM-DD)"]
    }
    assert decide_errors(task, when="20260501") == {
        "data.when": ["expected an ISO 8601 date (YYYY-MM-DD)"]
    }
    assert decide_errors(task, score=float("nan")) == {
        "data": ["score: nan is not a finite number"]
    }
    assert decide_errors(task, note="a \x00 b") == {"data": ["note: text with a NUL character"]}
    settings.ORCHESTRATION_MAX_TEXT_LENGTH = 10
    assert decide_errors(task, essay="x" * 11) == {
        "data.essay": ["at most 10 characters (ORCHESTRATION_MAX_TEXT_LENGTH)"]
    }
    done = services.task_complete(
        task_id=task.pk,
        outcome="ok",
        data={"note": "fine", "when": "2026-05-01", "score": 2.5},
        actor=None,
    )
    assert done.status == "completed"


WHOLE = """
key: whole
name: Whole
variables:
  code: {type: string, pattern: "[a-z]+"}
  codes: {type: array, items: {type: string, pattern: "[a-z]+"}}
start: ask
steps:
  ask:
    type: approval
    assignees: {users: [boss]}
    form:
      - {name: ref, type: text, pattern: "[A-Z]{2}-[0-9]+"}
    outcomes: {ok: done}
  done: {type: end, result: ok}
"""


@pytest.mark.parametrize("value", ["abc1", "1abc", "ab c", "abc\n"])
def test_a_variable_pattern_must_match_the_whole_value(roles, value) -> None:
    # Each of these has a match inside it (search) or at its start (match).
    make_user("boss")
    publish(WHOLE)
    with pytest.raises(InvalidInput) as raised:
        services.instance_start(key="whole", variables={"code": value}, actor=None)
    assert raised.value.errors == {"variables.code": ["must match [a-z]+"]}
    with pytest.raises(InvalidInput) as raised:
        services.instance_start(key="whole", variables={"codes": ["ok", value]}, actor=None)
    assert raised.value.errors == {"variables.codes": ["[1]: must match [a-z]+"]}
    assert not ProcessInstance.objects.exists()
    started = services.instance_start(
        key="whole", variables={"code": "abc", "codes": ["x", "yz"]}, actor=None
    )
    assert started.variables["codes"] == ["x", "yz"]


def test_a_form_pattern_must_match_the_whole_answer(roles) -> None:
    make_user("boss")
    publish(WHOLE)
    services.instance_start(key="whole", variables={}, actor=None)
    task = HumanTask.objects.get()
    for answer in ("XX-12 and more", "see XX-12", "xx-12"):
        assert decide_errors(task, ref=answer) == {"data.ref": ["must match [A-Z]{2}-[0-9]+"]}
    done = services.task_complete(task_id=task.pk, outcome="ok", data={"ref": "XX-12"}, actor=None)
    assert done.status == "completed"


def test_an_expression_that_would_build_too_much_fails_its_instance_at_once(roles) -> None:
    # Found: a start request hung on a title like this one (each level within
    # the old cap, the whole 10^10), and a worker retried it for ever.
    make_user("boss")
    publish("""
key: bomb
name: Bomb
variables:
  item: {type: string}
  count: {type: integer}
start: ask
steps:
  ask:
    type: approval
    title: "{{ [[item] * count] * count }}"
    assignees: {users: [boss]}
    outcomes: {ok: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(
        key="bomb", variables={"item": "x", "count": 100000}, actor=None
    )
    instance.refresh_from_db()
    assert instance.status in {"failed", "incident"}, instance.status
    assert "a value larger than 100000" in str(instance.error)
    assert not HumanTask.objects.filter(instance=instance).exists()
