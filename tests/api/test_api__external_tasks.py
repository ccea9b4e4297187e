"""External workers fetch and lock work by topic, complete it, fail it and
extend their locks; an expired lock frees the work and silences its worker."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.models import ProcessEvent, ProcessInstance, StepRun
from tests.api.conftest import api, key_for, post
from tests.api.test_api__foundation import assert_problem

pytestmark = pytest.mark.django_db

SHIPPING = """
key: shipping
name: Shipping
variables:
  order: {type: string, required: true}
start: reserve
steps:
  reserve:
    type: service
    external: warehouse
    retry: {max_attempts: 3, backoff: 1s}
    outputs: [slot]
    next: ship
  ship: {type: service, external: carrier, next: done}
  done: {type: end, result: shipped}
"""
FETCH = "/api/v1/external-tasks/fetch-and-lock"


@pytest.fixture
def shipping(run):
    run.publish(SHIPPING)
    return run


def order(run, number: str = "A-1") -> ProcessInstance:
    instance = services.instance_start(
        key="shipping", variables={"order": number}, actor=None, business_key=number
    )
    run.run()
    return instance


def fetch(client, worker: str = "w1", topics=("warehouse",), **more):
    return post(client, FETCH, {"worker_id": worker, "topics": list(topics), **more})


def test_an_external_worker_runs_a_process_through(shipping) -> None:
    instance = order(shipping)
    run = StepRun.objects.get(instance=instance)
    assert (run.status, run.topic) == ("ready", "warehouse")  # the engine left it alone
    worker = api(key_for("otto"))
    locked = fetch(worker, lock_duration=60)
    assert locked.status_code == 200, locked.content
    (task,) = locked.json()
    assert task["id"] == run.pk and task["variables"] == {"order": "A-1"}
    assert task["business_key"] == "A-1" and task["idempotency_key"] == run.idempotency_key
    assert fetch(worker, "w2").json() == []  # locked for w1
    done = post(
        worker,
        f"/api/v1/external-tasks/{run.pk}/complete",
        {"worker_id": "w1", "variables": {"slot": 7}},
    )
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    shipping.run()
    (carrier,) = fetch(worker, "w1", topics=["carrier", "warehouse"]).json()
    assert carrier["topic"] == "carrier" and carrier["variables"]["slot"] == 7
    post(worker, f"/api/v1/external-tasks/{carrier['id']}/complete", {"worker_id": "w1"})
    shipping.run()
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.result == "shipped"


def test_an_expired_lock_frees_the_work_and_refuses_its_old_worker(shipping) -> None:
    order(shipping)
    worker = api(key_for("otto"))
    (task,) = fetch(worker, "w1", lock_duration=10).json()
    shipping.advance(seconds=11)
    late = post(worker, f"/api/v1/external-tasks/{task['id']}/complete", {"worker_id": "w1"})
    assert_problem(late, 409, "lock_expired")
    (again,) = fetch(worker, "w2", lock_duration=10).json()
    assert again["id"] == task["id"]
    assert_problem(
        post(
            worker,
            f"/api/v1/external-tasks/{task['id']}/extend-lock",
            {"worker_id": "w1", "lock_duration": 60},
        ),
        409,
        "not_locked",
    )
    assert (
        post(
            worker, f"/api/v1/external-tasks/{task['id']}/complete", {"worker_id": "w2"}
        ).status_code
        == 200
    )
    refused = ProcessEvent.objects.filter(kind="step.result_discarded")
    assert [(e.payload["worker"], e.payload["why"]) for e in refused] == [
        ("w1", "lock_expired"),
        ("w1", "not_locked"),
    ]
    assert StepRun.objects.get(pk=task["id"]).attempt == 1  # an expiry is not an attempt


def test_extending_a_lock_keeps_the_work(shipping) -> None:
    order(shipping)
    worker = api(key_for("otto"))
    (task,) = fetch(worker, "w1", lock_duration=10).json()
    shipping.advance(seconds=8)
    extended = post(
        worker,
        f"/api/v1/external-tasks/{task['id']}/extend-lock",
        {"worker_id": "w1", "lock_duration": 30},
    )
    assert extended.status_code == 200
    shipping.advance(seconds=20)
    assert fetch(worker, "w2").json() == []
    assert (
        post(
            worker, f"/api/v1/external-tasks/{task['id']}/complete", {"worker_id": "w1"}
        ).status_code
        == 200
    )


def test_failures_retry_by_policy_then_fail_the_instance(shipping) -> None:
    instance = order(shipping)
    worker = api(key_for("otto"))
    (task,) = fetch(worker).json()
    failed = post(
        worker,
        f"/api/v1/external-tasks/{task['id']}/fail",
        {"worker_id": "w1", "error": "stock service down", "retry_in": 30},
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    shipping.run()
    assert fetch(worker).json() == []  # not before retry_in
    shipping.advance(seconds=31)
    (retry,) = fetch(worker).json()
    assert retry["attempt"] == 2 and retry["idempotency_key"] == task["idempotency_key"]
    post(
        worker,
        f"/api/v1/external-tasks/{retry['id']}/fail",
        {"worker_id": "w1", "error": "no such order", "code": "NO_ORDER", "retryable": False},
    )
    shipping.run()
    instance.refresh_from_db()
    assert instance.status == "failed" and instance.error["code"] == "NO_ORDER"


def test_who_may_work_and_bad_requests(shipping) -> None:
    order(shipping)
    assert_problem(fetch(api(key_for("bob"))), 403, "permission_denied")
    assert_problem(
        fetch(api(key_for("otto", scopes=["tasks:read"], name="o-read"))), 403, "permission_denied"
    )
    elsewhere = api(key_for("otto", definitions=["purchase-approval"], name="o-purchases"))
    assert fetch(elsewhere).json() == []
    run = StepRun.objects.get()
    assert_problem(
        post(elsewhere, f"/api/v1/external-tasks/{run.pk}/complete", {"worker_id": "w1"}),
        404,
        "not_found",
    )
    otto = api(key_for("otto"))
    body = assert_problem(
        post(otto, FETCH, {"worker_id": "", "topics": [], "max_tasks": 0, "lock_duration": 0}),
        400,
        "invalid_input",
    )
    assert set(body["errors"]) == {"worker_id", "topics", "max_tasks", "lock_duration"}
    body = assert_problem(
        post(
            otto,
            f"/api/v1/external-tasks/{run.pk}/complete",
            {"worker_id": "w1", "variables": {"x": "\u0000"}},
        ),
        400,
        "malformed_request",
    )
    assert "variables.x" in body["detail"]
    assert_problem(
        post(otto, f"/api/v1/external-tasks/{run.pk}/complete", {"worker_id": "w1"}),
        409,
        "not_locked",
    )


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ("{type: service, handler: demo.check_budget, external: warehouse, next: done}", "steps.s"),
        ("{type: service, next: done}", "steps.s"),
        ("{type: service, external: warehouse, timeout: 30s, next: done}", "steps.s.timeout"),
    ],
)
def test_a_service_step_names_a_handler_or_a_topic(run, step, path) -> None:
    source = f"key: bad\nname: Bad\nstart: s\nsteps:\n  s: {step}\n  done: {{type: end}}\n"
    with pytest.raises(DefinitionInvalid) as caught:
        services.version_save_draft(source=source, actor=None)
    assert [e.path for e in caught.value.errors] == [path]


ROUTED = """
key: routed
name: Routed
start: reserve
steps:
  reserve:
    type: service
    external: warehouse
    compensate: demo.cancel_order
    on_error: {OUT_OF_STOCK: sorry}
    next: ship
  ship: {type: service, external: carrier, next: done}
  done: {type: end, result: shipped}
  sorry: {type: end, result: out_of_stock}
"""


def test_on_error_routes_a_business_failure_and_compensate_undoes_an_external_step(run) -> None:
    run.publish(ROUTED)
    worker = api(key_for("otto"))
    first = services.instance_start(key="routed", variables={}, actor=None)
    run.run()
    (task,) = fetch(worker).json()
    post(
        worker,
        f"/api/v1/external-tasks/{task['id']}/fail",
        {"worker_id": "w1", "error": "none left", "code": "OUT_OF_STOCK", "retryable": False},
    )
    run.run()
    first.refresh_from_db()
    assert (first.status, first.result) == ("completed", "out_of_stock")
    second = services.instance_start(key="routed", variables={}, actor=None)
    run.run()
    (task,) = fetch(worker).json()
    post(worker, f"/api/v1/external-tasks/{task['id']}/complete", {"worker_id": "w1"})
    run.run()
    services.instance_cancel(instance_id=second.pk, actor=None, reason="changed mind")
    run.run()
    second.refresh_from_db()
    assert second.status == "compensated"
    undo = StepRun.objects.get(instance=second, compensation=True)
    assert (undo.step, undo.topic, undo.status) == ("reserve", "", "succeeded")


def test_many_tasks_complete_in_one_request_each_alone(shipping) -> None:
    for number in ("B-1", "B-2", "B-3"):
        order(shipping, number)
    worker = api(key_for("otto"))
    first, second = fetch(worker, "w1", max_tasks=2, lock_duration=30).json()
    (other,) = fetch(worker, "w2", lock_duration=30).json()
    answer = post(
        worker,
        "/api/v1/external-tasks/complete",
        {
            "worker_id": "w1",
            "tasks": [
                {"id": first["id"], "variables": {"slot": 1}},
                {"id": other["id"]},
                {"id": second["id"]},
                {"id": 999999},
            ],
        },
    )
    assert answer.status_code == 200, answer.content
    got = [(row["id"], row["status"]) for row in answer.json()]
    assert got == [
        (first["id"], "succeeded"),
        (other["id"], "not_locked"),
        (second["id"], "succeeded"),
        (999999, "not_found"),
    ]
    shipping.run()
    assert len(fetch(worker, "w1", topics=["carrier"], max_tasks=5).json()) == 2
    assert StepRun.objects.get(pk=other["id"]).worker == "ext:w2"  # still w2's
    body = assert_problem(
        post(worker, "/api/v1/external-tasks/complete", {"worker_id": "w1", "tasks": []}),
        400,
        "invalid_input",
    )
    assert "tasks" in body["errors"]


def test_each_entry_of_a_for_each_step_reaches_a_worker_with_its_item(run) -> None:
    run.publish("""
key: parcels
name: Parcels
variables:
  parcels: {type: array, required: true}
start: ship
steps:
  ship:
    type: service
    external: carrier
    for_each: {items: parcels, as: parcel, mode: parallel}
    outputs: [label]
    next: done
  done: {type: end, result: shipped}
""")
    instance = services.instance_start(
        key="parcels", variables={"parcels": ["small", "large"]}, actor=None
    )
    run.run()
    worker = api(key_for("otto"))
    locked = fetch(worker, topics=["carrier"], max_tasks=5).json()
    assert sorted(t["variables"]["parcel"] for t in locked) == ["large", "small"]
    assert len({t["idempotency_key"] for t in locked}) == 2
    for task in locked:
        label = f"label-{task['variables']['parcel']}"
        post(worker, f"/api/v1/external-tasks/{task['id']}/complete",
             {"worker_id": "w1", "variables": {"label": label}})  # fmt: skip
    run.run()
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.variables["label"] == ["label-small", "label-large"]
