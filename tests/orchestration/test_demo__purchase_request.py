"""The demo's withdrawable purchase request, end to end: legal, finance and
security review in parallel inside a region, two approvals are enough (the
third review is withdrawn), a rejection turns it down, five days without two
approvals expire it, and the requester may withdraw it from the instance page
at any point before it is ordered; whatever ends it, the requester is told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import mail

from accounts.models import User
from orchestration import selectors
from orchestration.demo import seed
from orchestration.models import HumanTask, ProcessInstance
from orchestration.testing import ProcessTest

pytestmark = pytest.mark.django_db

SOURCE = (Path(seed.__file__).parent / "definitions" / "purchase-request.yaml").read_text()


@pytest.fixture
def run() -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(SOURCE)
        yield running


def request(run: ProcessTest) -> ProcessInstance:
    return run.start(
        "purchase-request", {"item": "laptop", "amount": 2400, "vendor": "Acme"}, as_="alice"
    )


def reviews(instance: ProcessInstance) -> dict[str, str]:
    return dict(HumanTask.objects.filter(instance=instance).values_list("step", "status"))


def review(run: ProcessTest, instance: ProcessInstance, step: str, who: str, outcome: str):
    task = HumanTask.objects.get(instance=instance, step=step)
    data = {"comment": "no"} if outcome == "reject" else {}
    run.decide(task, outcome, as_=who, data=data)
    instance.refresh_from_db()


def told(run: ProcessTest) -> list[tuple[str, list[str]]]:
    run.advance(seconds=1)  # the people's side of the next second: the outbox
    return [(m.subject, sorted(m.to)) for m in mail.outbox]


def test_two_approvals_order_it_and_withdraw_the_third_review(run) -> None:
    instance = request(run)
    assert reviews(instance) == {"legal": "open", "finance": "open", "security": "open"}
    review(run, instance, "security", "sami", "approve")
    review(run, instance, "legal", "lena", "approve")
    assert (instance.status, instance.result) == ("completed", "ordered")
    assert reviews(instance) == {"legal": "completed", "finance": "withdrawn",
                                 "security": "completed"}  # fmt: skip
    assert instance.variables["order_ref"].startswith("PO-")
    finance = HumanTask.objects.get(instance=instance, step="finance")
    assert [e["text"] for e in selectors.task_history(finance)] == [
        "withdrawn: 2 of 3 branches were enough"
    ]
    assert ("Ordered: laptop", ["alice@example.com"]) in told(run)


def test_one_rejection_turns_it_down(run) -> None:
    instance = request(run)
    review(run, instance, "finance", "fred", "reject")
    assert (instance.status, instance.result) == ("completed", "rejected")
    assert reviews(instance) == {"legal": "withdrawn", "finance": "completed",
                                 "security": "withdrawn"}  # fmt: skip
    assert ("Turned down: laptop", ["alice@example.com"]) in told(run)


def test_five_days_without_two_approvals_expire_it(run) -> None:
    instance = request(run)
    review(run, instance, "legal", "lena", "approve")
    run.advance(days=5)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "expired")
    assert reviews(instance) == {"legal": "completed", "finance": "withdrawn",
                                 "security": "withdrawn"}  # fmt: skip
    (_, to), *_ = [m for m in told(run) if m[0].startswith("Expired")]
    assert "alice@example.com" in to and "bob@example.com" in to  # and the managers


def test_the_requester_withdraws_it_from_the_instance_page(run, client) -> None:
    instance = request(run)
    review(run, instance, "legal", "lena", "approve")
    client.force_login(User.objects.get(username="alice"))
    page = client.get(f"/instances/{instance.pk}/").content.decode()
    assert 'id="action-withdrawn"' in page and "Withdraw request" in page
    sent = client.post(f"/instances/{instance.pk}/send/withdrawn/", {"reason": "bought one"})
    assert sent.status_code == 302
    run.run()
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    assert reviews(instance) == {"legal": "completed", "finance": "withdrawn",
                                 "security": "withdrawn"}  # fmt: skip
    assert instance.variables["reviews"]["by"] == "alice"
    security = HumanTask.objects.get(instance=instance, step="security")
    assert [e["text"] for e in selectors.task_history(security)] == [
        "withdrawn: the event withdrawn came"
    ]
    assert instance.variables["reviews"]["reason"] == "bought one"
    assert ("Withdrawn: laptop", ["alice@example.com"]) in told(run)
    assert 'id="action-withdrawn"' not in client.get(f"/instances/{instance.pk}/").content.decode()


def test_nobody_else_may_withdraw_it(run, client) -> None:
    instance = request(run)
    client.force_login(User.objects.get(username="lena"))
    # lena reviews it but did not start it: she does not even see the instance.
    assert client.post(f"/instances/{instance.pk}/send/withdrawn/").status_code == 404
    from django.core.exceptions import PermissionDenied

    from orchestration import services

    with pytest.raises(PermissionDenied):
        services.instance_send_message(instance_id=instance.pk, name="withdrawn", payload={},
                                       actor=User.objects.get(username="bob"))  # fmt: skip
    # The starter may send only what the process lists as actions.
    with pytest.raises(PermissionDenied):
        services.instance_send_message(instance_id=instance.pk, name="other", payload={},
                                       actor=User.objects.get(username="alice"))  # fmt: skip
    instance.refresh_from_db()
    assert instance.status == "waiting"
    assert set(reviews(instance).values()) == {"open"}
