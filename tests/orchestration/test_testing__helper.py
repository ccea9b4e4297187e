"""orchestration.testing, used as a definition author would: the vacation story
on the demo's purchase approval, end to end, with no sleeps."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from orchestration.demo import seed
from orchestration.testing import ProcessTest
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_people() -> None:
    seed.seed_users()


def test_the_vacation_story_on_the_purchase_approval(demo_people) -> None:
    with ProcessTest() as run:
        run.publish(PURCHASE_SOURCE)
        instance = run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
        (task,) = run.open_tasks(instance)
        assert run.assignees(task) == ["group:managers"]
        with pytest.raises(PermissionDenied, match="alice started this instance"):
            run.decide(task, "approve", as_="alice")
        # The manager is on vacation: nobody decides.
        run.advance(days=1)
        assert run.escalations(instance) == [(0, "remind")]
        assert any(m.subject.startswith("Reminder") for m in mail.outbox)
        run.advance(days=1)
        assert run.escalations(instance) == [(0, "remind"), (1, "reassign")]
        assert run.assignees(task) == ["group:directors"]
        with pytest.raises(PermissionDenied, match="bob is not an assignee"):
            run.decide(task, "approve", as_="bob")
        run.decide(task, "approve", as_="dave", data={"comment": "ok"})
        instance.refresh_from_db()
        assert (instance.status, instance.result) == ("completed", "approved")
        assert instance.variables["manager_approval"]["decided_by"] == "dave"
