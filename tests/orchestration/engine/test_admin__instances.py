"""Operators see instances in the admin and act on them only through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orchestration import services
from orchestration.models import ProcessEvent, ProcessInstance
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.test_runtime__flows import CHAIN

pytestmark = pytest.mark.django_db

LIST = reverse("admin:orchestration_processinstance_changelist")


@pytest.fixture
def instances(db, people, worker):
    publish(CHAIN)
    made = [services.instance_start(key="chain", variables={"n": n}, actor=None) for n in range(3)]
    worker.run_until_idle()
    return made


def test_operator_sees_where_an_instance_is(
    client, people, instances, django_assert_max_num_queries
) -> None:
    people["operator"].is_staff = True
    people["operator"].save()
    client.force_login(people["operator"])
    with django_assert_max_num_queries(10):
        assert client.get(LIST).status_code == 200
    page = client.get(reverse("admin:orchestration_processinstance_change", args=[instances[0].pk]))
    html = page.content.decode()
    assert 'class="step current" data-step="ask"' in html
    assert "succeeded" in html and "n is 0" in html
    # Completed steps are marked, with a legend; the step kind is a word, not an icon.
    assert 'class="step done"' in html and "✓ completed step" in html
    assert "<p>step</p>" in html and "icon-no.svg" not in html
    started = ProcessEvent.objects.get(instance=instances[0], kind="instance.started")
    assert (started.from_status, started.to_status) == ("", "running")


def test_cancel_action_goes_through_the_service(client, people, instances) -> None:
    people["operator"].is_staff = True
    people["operator"].save()
    client.force_login(people["operator"])
    client.post(LIST, {"action": "cancel_selected", "_selected_action": [instances[0].pk]})
    assert ProcessInstance.objects.get(pk=instances[0].pk).status == "compensating"
    assert ProcessInstance.objects.get(pk=instances[1].pk).status == "waiting"
    (audit,) = ProcessEvent.objects.filter(kind="instance.cancelled_by")
    assert (audit.instance_id, audit.actor, audit.from_status, audit.to_status) == (
        instances[0].pk,
        people["operator"],
        "waiting",
        "compensating",
    )


def test_staff_without_the_operator_role_cannot_see_or_cancel(client, outsider, instances) -> None:
    client.force_login(outsider)
    assert client.get(LIST).status_code == 403
    client.post(LIST, {"action": "cancel_selected", "_selected_action": [instances[0].pk]})
    assert ProcessInstance.objects.get(pk=instances[0].pk).status == "waiting"


def test_operators_see_an_incident_in_words_and_retry_it(client, people, worker) -> None:
    from orchestration.models import StepRun
    from tests.orchestration.engine.conftest import ONE_STEP

    publish(ONE_STEP)
    poison = services.instance_start(key="one", variables={}, actor=None)
    StepRun.objects.filter(instance=poison).update(step="ghost")  # a row that no longer fits
    worker.run_until_idle()
    people["operator"].is_staff = True
    people["operator"].save()
    client.force_login(people["operator"])
    assert b"incident" in client.get(LIST + "?status__exact=incident").content
    page = client.get(reverse("admin:orchestration_processinstance_change", args=[poison.pk]))
    assert "Incident at step &#x27;ghost&#x27;: KeyError" in page.content.decode()
    StepRun.objects.filter(instance=poison).update(step="a")  # the operator repairs the row
    response = client.post(
        LIST, {"action": "retry_selected", "_selected_action": [poison.pk]}, follow=True
    )
    assert f"#{poison.pk} retried: now Running." in response.content.decode()
    (audit,) = ProcessEvent.objects.filter(instance=poison, kind="instance.incident_retried")
    assert audit.actor == people["operator"]
    worker.run_until_idle()
    poison.refresh_from_db()
    assert (poison.status, poison.result) == ("completed", "ok")


def test_operators_migrate_instances_from_the_admin_after_a_dry_run(
    client, people, instances
) -> None:
    from orchestration.models import HumanTask, ProcessVersion

    v2 = publish(CHAIN.replace("  ask:\n", "  review:\n").replace("next: ask", "next: review"))
    people["operator"].is_staff = True
    people["operator"].save()
    client.force_login(people["operator"])
    page = reverse("admin:orchestration_processversion_migrate", args=[v2.pk])
    assert (
        'id="migrate-here"'
        in client.get(
            reverse("admin:orchestration_processversion_change", args=[v2.pk])
        ).content.decode()
    )
    # Without a mapping nothing can move: the dry run says why for each, and offers no Migrate.
    dry = client.post(page, {"source": 1, "mapping": "", "_dry_run": "1"}).content.decode()
    assert "no: step &#x27;ask&#x27; has no counterpart in version 2" in dry
    assert 'id="migrate"' not in dry
    bad = client.post(page, {"source": 1, "mapping": "ask", "_dry_run": "1"}).content.decode()
    assert "line 1: expected old_step=new_step" in bad
    mapped = {"source": 1, "mapping": "ask=review"}
    dry = client.post(page, {**mapped, "_dry_run": "1"}).content.decode()
    assert dry.count(">yes<") == 3 and 'id="migrate"' in dry
    assert ProcessVersion.objects.get(pk=v2.pk).instances.count() == 0  # nothing moved yet
    done = client.post(page, {**mapped, "_migrate": "1"})
    assert done.status_code == 302
    assert set(HumanTask.objects.values_list("step", flat=True)) == {"review"}
    assert ProcessVersion.objects.get(pk=v2.pk).instances.count() == 3


def test_only_operators_reach_the_migration_page(client, people, instances) -> None:
    v2 = publish(CHAIN.replace("name: Chain", "name: Chain two"))
    people["manager"].is_staff = True
    people["manager"].save()
    client.force_login(people["manager"])
    page = reverse("admin:orchestration_processversion_migrate", args=[v2.pk])
    assert client.get(page).status_code in {302, 403}


def test_the_admin_says_who_suspended_an_instance_and_why(client, people, instances) -> None:
    people["operator"].is_staff = True
    people["operator"].save()
    services.instance_suspend(instance_id=instances[0].pk, reason="supplier audit",
                              actor=people["operator"])  # fmt: skip
    client.force_login(people["operator"])
    page = client.get(reverse("admin:orchestration_processinstance_change",
                              args=[instances[0].pk])).content.decode()  # fmt: skip
    assert "Suspended by opal: supplier audit (0 events held)." in page
    assert "failed: None" not in page


def test_the_admin_speaks_the_operators_language(client, people, instances) -> None:
    operator = people["operator"]
    operator.is_staff, operator.language = True, "de"
    operator.save()
    services.instance_suspend(instance_id=instances[0].pk, reason="Lieferantenprüfung",
                              actor=operator)  # fmt: skip
    client.force_login(operator)
    listing = client.get(LIST).content.decode()
    # Our model and field names, column headings and actions, not only Django's own words.
    for german in ("Prozessinstanzen", "Geschäftsschlüssel", "Gestartet von",
                   "Ausgewählte Instanzen abbrechen (mit Kompensation)", "Angehalten"):  # fmt: skip
        assert german in listing, german
    assert "Business key" not in listing and "Cancel selected instances" not in listing
    page = client.get(reverse("admin:orchestration_processinstance_change",
                              args=[instances[0].pk])).content.decode()  # fmt: skip
    assert "Angehalten von opal: Lieferantenprüfung (0 Ereignisse zurückgehalten)." in page
    assert "Wo sie steht" in page and 'aria-label="Prozessdiagramm"' in page
    assert "Where it is" not in page and "Suspended by" not in page
