"""WCP22, recursion: a sub-process step may start its own definition when the
step bounds it (`max_depth`, counted from the top-level instance); without a
bound the cycle is refused when the definition is saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestration import services
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.models import ProcessInstance
from orchestration.testing import ProcessTest

pytestmark = pytest.mark.django_db

# Splits a list of lines in halves until each part holds one line.
SPLIT = """
key: split
name: Split
variables:
  lines: {type: array, required: true}
start: small
steps:
  small:
    type: decision
    branches:
      - {when: "len(lines) <= 1", next: done}
    default: halves
  halves:
    type: parallel
    branches: [left, right]
  left:
    type: subprocess
    definition: split
    max_depth: %(depth)s
    input: {lines: "lines[:len(lines) // 2]"}
    next: joined
  right:
    type: subprocess
    definition: split
    max_depth: %(depth)s
    input: {lines: "lines[len(lines) // 2:]"}
    next: joined
  joined: {type: join, next: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    with ProcessTest() as running:
        yield running


def test_wcp22_recursion_a_definition_starts_itself_within_its_bound(run) -> None:
    run.publish(SPLIT % {"depth": 3})
    instance = run.start("split", {"lines": ["a", "b", "c", "d"]})
    assert (instance.status, instance.result) == ("completed", "ok")
    # 4 lines: 2 children of 2 lines, 4 grandchildren of 1 line.
    children = ProcessInstance.objects.exclude(pk=instance.pk)
    assert children.count() == 6 and set(children.values_list("status", flat=True)) == {"completed"}


def test_wcp22_recursion_past_the_bound_fails_the_step(run) -> None:
    run.publish(SPLIT % {"depth": 1})
    instance = run.start("split", {"lines": ["a", "b", "c", "d"]})
    # Each child (depth 1) may not start a grandchild (depth 2): the child's
    # step fails, saying why; its parent waits on it, as on any failed child
    # (an operator retries or cancels).
    children = ProcessInstance.objects.filter(parent=instance).order_by("pk")
    assert [(c.status, c.error["message"]) for c in children] == [
        ("failed", "sub-process ended failed: max_depth 1 reached (depth 2)"),
    ] * 2
    assert ProcessInstance.objects.filter(parent__parent=instance).count() == 0


def test_a_bound_on_a_step_that_cannot_recurse_is_refused(db) -> None:
    source = (
        "key: once\nname: Once\nstart: call\nsteps:\n"
        "  call: {type: subprocess, definition: other, max_depth: 2, next: done}\n"
        "  done: {type: end, result: ok}\n"
    )
    services.version_publish(
        version=services.version_save_draft(
            source="key: other\nname: Other\nstart: e\nsteps:\n  e: {type: end}\n", actor=None
        ).version,
        actor=None,
    )
    with pytest.raises(DefinitionInvalid) as raised:
        services.version_publish(
            version=services.version_save_draft(source=source, actor=None).version, actor=None
        )
    assert raised.value.messages == [
        "steps.call.max_depth: 'other' does not lead back to 'once': nothing to bound"
    ]
