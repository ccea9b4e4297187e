"""An instance's page: it says when its timers and escalations fire, and
refreshes itself only while something can still move."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db


def test_pending_escalations_are_listed_with_when_they_fire(client, run) -> None:
    task = purchase(run, "desk")
    instance = task.instance
    login(client, "otto")
    html = client.get(reverse("tasks_ui:instance", args=[instance.pk])).content.decode()
    timers = html.split('id="timers"', 1)[1].split("</ul>", 1)[0]
    assert "Manager approval: escalation level 1: remind" in timers
    assert "escalation level 2: reassign" in timers
    assert timers.index("level 1") < timers.index("level 2")  # soonest first
    # The page polls itself while the instance waits, and stops once it has ended.
    assert 'hx-trigger="every 15s"' in html
    run.decide(task, "approve", as_="bob")
    run.run()
    ended = client.get(reverse("tasks_ui:instance", args=[instance.pk])).content.decode()
    assert "hx-trigger" not in ended.split('id="live"', 1)[1].split(">", 1)[0]
    assert 'id="timers">None pending.' in ended
    # The admin's instance page lists them too.
    admin = User.objects.get(username="admin")
    client.force_login(admin)
    other = purchase(run, "lamp").instance
    page = client.get(reverse("admin:orchestration_processinstance_change", args=[other.pk]))
    assert "manager_approval: escalation level 1: remind" in page.content.decode()
