"""A notify step emails people (the starter through the `starter` resolver,
users and groups by name) after commit, from the outbox, and goes on at once."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import User
from orchestration import services
from orchestration.models import ProcessEvent
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish
from tests.orchestration.patterns.conftest import refused

pytestmark = pytest.mark.django_db

TOLD = """
key: told
name: Told
variables:
  item: {type: string, required: true}
start: tell
steps:
  tell:
    type: notify
    to: {resolver: starter, users: [nobody], groups: [buyers]}
    subject: "Withdrawn: {{ item }}"
    message: "Your request for {{ item }} was withdrawn; nothing was ordered."
    next: done
  done: {type: end, result: told}
"""


def test_a_notify_step_emails_the_starter_and_a_group_and_goes_on(roles, worker, clock) -> None:
    make_user("alice", "requester", "requesters", email="alice@example.com")
    make_user("bea", "buyers", email="bea@example.com")
    publish(TOLD)
    instance = services.instance_start(key="told", variables={"item": "desk ü"},
                                       actor=User.objects.get(username="alice"))  # fmt: skip
    worker.run_until_idle()
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "told")
    (row,) = [e for e in ProcessEvent.objects.filter(instance=instance) if e.kind == "notification"]
    assert (row.step, row.payload["reason"], row.payload["missing"]) == ("tell", "told", ["nobody"])
    clock.advance(seconds=1)
    worker.run_until_idle()  # the people's side: the outbox sends
    (message,) = mail.outbox
    assert message.subject == "Withdrawn: desk ü"
    assert sorted(message.to) == ["alice@example.com", "bea@example.com"]
    assert "Your request for desk ü was withdrawn" in message.body
    assert "decide" not in message.body  # nothing to decide: no task list line, no links


def test_a_notify_step_is_validated() -> None:
    assert "steps.tell.subject: unknown variable 'itm'" in refused(
        TOLD.replace('"Withdrawn: {{ item }}"', '"Withdrawn: {{ itm }}"')
    )
    assert "steps.tell.to.resolver: resolver 'boss' is not registered" in refused(
        TOLD.replace("resolver: starter", "resolver: boss")
    )
    assert "steps.tell.to: needs at least 1 entries" in refused(
        TOLD.replace("to: {resolver: starter, users: [nobody], groups: [buyers]}", "to: {}")
    )
