from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.engine import handlers as test_handlers


@pytest.fixture
def process(roles) -> Iterator[ProcessTest]:
    """A ProcessTest (controllable clock, the real services) with the engine
    tests' recording handlers (test.a, test.b, test.c) cleared, and ria, who
    is in the group `reviewers`."""
    test_handlers.reset()
    make_user("ria", "reviewers")  # decides the patterns' approvals
    with ProcessTest() as running:
        yield running
    test_handlers.reset()


def calls() -> list[str]:
    """The recording handlers called so far, in order (test.a -> "a")."""
    return [name.removeprefix("test.") for name in test_handlers.ORDER]


def notes(instance, kind: str) -> list[dict]:
    """The audit notes of that kind the instance's transitions carry, in order."""
    from orchestration.models import ProcessEvent

    return [n for e in ProcessEvent.objects.filter(instance=instance).order_by("pk")
            for n in e.payload.get("notes", []) if n.get("kind") == kind]  # fmt: skip


def refused(source: str) -> list[str]:
    """The messages saving `source` as a draft is refused with (fails the test
    when it is accepted)."""
    from orchestration import services
    from orchestration.definitions.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as raised:
        services.version_save_draft(source=source, actor=None)
    return raised.value.messages
