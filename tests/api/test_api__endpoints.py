"""Every endpoint for the roles that use it, and the errors around it."""

from __future__ import annotations

import pytest

from api.models import ApiKey
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance
from tests.api.conftest import api, key_for, post
from tests.api.test_api__foundation import START, assert_problem
from tests.orchestration.factories import PURCHASE_SOURCE
from tests.tasks_ui.conftest import starter_in_the_group

pytestmark = pytest.mark.django_db


def start(run, client=None) -> tuple[int, HumanTask]:
    """A purchase started through the API by alice; its approval task."""
    client = client or api(key_for("alice", name="alice-start"))
    pk = post(client, "/api/v1/instances", START).json()["id"]
    run.run()
    return pk, HumanTask.objects.get(instance_id=pk, status="open")


# -- definitions ------------------------------------------------------------------------


def test_definitions_show_what_the_caller_may_start_or_administer(run) -> None:
    mine = api(key_for("alice")).get("/api/v1/definitions").json()
    assert [d["key"] for d in mine] == ["purchase-approval"]
    assert mine[0]["published_version"] == 1
    assert api(key_for("bob")).get("/api/v1/definitions").json() == []
    detail = api(key_for("alice", name="a2")).get("/api/v1/definitions/purchase-approval")
    schema = detail.json()["variables_schema"]
    assert schema["required"] == ["amount", "item"]
    assert schema["properties"]["amount"] == {"type": "number", "minimum": 0}
    assert_problem(
        api(key_for("bob", name="b2")).get("/api/v1/definitions/purchase-approval"),
        404,
        "not_found",
    )


def test_deploy_and_publish_a_version(run) -> None:
    client = api(key_for("admin"))
    source = PURCHASE_SOURCE.replace("name: Purchase approval", "name: Purchase approval v2")
    url = "/api/v1/definitions/purchase-approval/versions"
    made = post(client, url, {"source": source})
    assert made.status_code == 201 and made.json()["number"] == 2
    assert made.json()["status"] == "draft" and made.json()["changed"] is True
    same = post(client, url, {"source": source})
    assert same.status_code == 200 and same.json()["changed"] is False
    published = post(client, f"{url}/2/publish", {"reason": "new name"})
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert_problem(post(client, f"{url}/2/publish"), 409, "transition_not_allowed")
    assert_problem(post(client, f"{url}/9/publish"), 404, "not_found")


def test_a_bad_definition_is_refused_with_errors_per_path(run) -> None:
    client = api(key_for("admin"))
    url = "/api/v1/definitions/purchase-approval/versions"
    broken = PURCHASE_SOURCE.replace("next: route", "next: nowhere")
    body = assert_problem(post(client, url, {"source": broken}), 400, "definition_invalid")
    assert any("check_budget" in path for path in body["errors"])
    body = assert_problem(
        post(client, "/api/v1/definitions/other/versions", {"source": PURCHASE_SOURCE}),
        400,
        "definition_invalid",
    )
    assert "key" in body["errors"]
    body = assert_problem(
        post(client, url, {"source": "a: [", "definition": {}}), 400, "invalid_input"
    )
    assert_problem(post(client, url, {"source": "key: [unclosed"}), 400, "definition_invalid")
    as_json = post(
        client,
        "/api/v1/definitions/tiny/versions",
        {
            "definition": {
                "key": "tiny",
                "name": "Tiny",
                "start": "done",
                "steps": {"done": {"type": "end", "result": "ok"}},
            }
        },
    )
    assert as_json.status_code == 201
    assert_problem(
        post(api(key_for("bob")), url, {"source": PURCHASE_SOURCE}), 403, "permission_denied"
    )


# -- instances -----------------------------------------------------------------------------


def test_start_read_and_list_instances(run) -> None:
    client = api(key_for("alice"))
    made = post(client, "/api/v1/instances", {**START, "business_key": "PO-1"})
    assert made.status_code == 201
    body = made.json()
    assert body["status"] == "running" and body["business_key"] == "PO-1"
    assert body["definition"] == "purchase-approval" and body["version"] == 1
    run.run()
    detail = client.get(f"/api/v1/instances/{body['id']}").json()
    assert detail["current_steps"] == ["manager_approval"]
    assert [t["step"] for t in detail["open_tasks"]] == ["manager_approval"]
    assert [s["step"] for s in detail["steps"]] == ["check_budget"]
    listed = client.get("/api/v1/instances", {"business_key": "PO-1", "status": "waiting"})
    assert [i["id"] for i in listed.json()["results"]] == [body["id"]]
    assert client.get("/api/v1/instances", {"definition": "other"}).json()["results"] == []
    assert_problem(client.get("/api/v1/instances", {"status": "sleeping"}), 400, "invalid_input")
    assert_problem(
        client.get("/api/v1/instances", {"started_after": "yesterday"}), 400, "invalid_input"
    )
    history = client.get(f"/api/v1/instances/{body['id']}/history").json()["results"]
    assert history[-1]["kind"] == "instance.started"
    assert history[-1]["client"] == "api:alice-system"


def test_instances_of_others_are_404_and_operators_see_all(run) -> None:
    pk, _ = start(run)
    for name in ("bob", "dave", "uma"):
        assert_problem(api(key_for(name)).get(f"/api/v1/instances/{pk}"), 404, "not_found")
        assert_problem(
            post(api(key_for(name, name=f"{name}-2")), f"/api/v1/instances/{pk}/cancel"),
            404,
            "not_found",
        )
    for name in ("otto", "audrey", "admin"):
        assert api(key_for(name)).get(f"/api/v1/instances/{pk}").status_code == 200
    assert_problem(
        post(api(key_for("alice")), f"/api/v1/instances/{pk}/cancel"), 403, "permission_denied"
    )
    assert_problem(
        post(api(key_for("audrey", name="aud")), f"/api/v1/instances/{pk}/cancel"),
        403,
        "permission_denied",
    )


def test_operators_cancel_retry_and_signal(run) -> None:
    pk, task = start(run)
    otto = api(key_for("otto"))
    assert_problem(post(otto, f"/api/v1/instances/{pk}/retry"), 409, "not_failed")
    assert_problem(
        post(otto, f"/api/v1/instances/{pk}/messages", {"name": "paid"}), 409, "no_subscriber"
    )
    cancelled = post(otto, f"/api/v1/instances/{pk}/cancel", {"reason": "duplicate"})
    assert cancelled.status_code == 200
    run.run()
    assert ProcessInstance.objects.get(pk=pk).status in {"cancelled", "compensated"}
    assert HumanTask.objects.get(pk=task.pk).status != "open"
    assert_problem(post(otto, f"/api/v1/instances/{pk}/cancel"), 409, "finished")


def test_operators_suspend_resume_and_move_with_a_reason(run) -> None:
    pk, task = start(run)
    otto = api(key_for("otto"))
    no_reason = post(otto, f"/api/v1/instances/{pk}/suspend", {})
    assert assert_problem(no_reason, 400, "invalid_input")["errors"] == {
        "reason": ["This field is required."]
    }
    suspended = post(otto, f"/api/v1/instances/{pk}/suspend", {"reason": "audit"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    bob = api(key_for("bob"))
    assert_problem(post(bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve"}),
                   409, "suspended")  # fmt: skip
    assert_problem(post(otto, f"/api/v1/instances/{pk}/suspend", {"reason": "again"}),
                   409, "not_suspendable")  # fmt: skip
    resumed = post(otto, f"/api/v1/instances/{pk}/resume", {"reason": "audit passed"})
    assert resumed.status_code == 200 and resumed.json()["status"] == "waiting"
    unknown = post(otto, f"/api/v1/instances/{pk}/move",
                   {"from": "manager_approval", "to": "nowhere", "reason": "x"})  # fmt: skip
    assert assert_problem(unknown, 400, "invalid_input")["errors"] == {
        "to": ["unknown step 'nowhere'"]
    }
    again = {"from": "manager_approval", "to": "manager_approval", "reason": "new form"}
    redo = post(otto, f"/api/v1/instances/{pk}/move", again)
    assert redo.status_code == 200, redo.content
    assert list(HumanTask.objects.filter(instance_id=pk).values_list("status", flat=True)
                .order_by("pk")) == ["withdrawn", "open"]  # fmt: skip
    # Alice started it (she sees it) but is no operator.
    alice = api(key_for("alice", name="alice-operate", scopes=["instances:operate"]))
    assert_problem(post(alice, f"/api/v1/instances/{pk}/suspend", {"reason": "x"}),
                   403, "permission_denied")  # fmt: skip
    kinds = set(ProcessEvent.objects.filter(instance_id=pk).values_list("kind", flat=True))
    assert {"instance.suspended", "instance.resumed", "instance.moved"} <= kinds


# -- tasks ----------------------------------------------------------------------------------


def test_an_approver_lists_claims_and_completes_a_task(run) -> None:
    _, task = start(run)
    bob = api(key_for("bob"))
    offered = bob.get("/api/v1/tasks", {"view": "offered"}).json()["results"]
    assert [t["id"] for t in offered] == [task.pk]
    assert offered[0]["business_key"] == "" and sorted(offered[0]["outcomes"]) == [
        "approve",
        "reject",
    ]
    assert bob.get("/api/v1/tasks", {"view": "mine"}).json()["results"] == []
    claimed = post(bob, f"/api/v1/tasks/{task.pk}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "bob"
    assert [t["id"] for t in bob.get("/api/v1/tasks", {"view": "mine"}).json()["results"]] == [
        task.pk
    ]
    # Carol (also a manager) cannot take it from bob.
    assert_problem(
        post(api(key_for("carol")), f"/api/v1/tasks/{task.pk}/claim"), 403, "permission_denied"
    )
    refused = post(bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "reject"})
    assert assert_problem(refused, 400, "invalid_input")["errors"] == {
        "data.comment": ["required to reject"]
    }
    done = post(
        bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve", "comment": "fine by me"}
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed" and done.json()["decided_by"] == "bob"
    assert_problem(
        post(bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve"}), 409, "task_closed"
    )
    assert ProcessEvent.objects.filter(kind="task.commented", client="api:bob-system").exists()


def test_four_eyes_holds_through_the_api(run) -> None:
    _, task = start(run)
    alice = api(key_for("alice"))
    assert alice.get(f"/api/v1/tasks/{task.pk}").status_code == 200  # she started it
    body = assert_problem(
        post(alice, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve"}),
        403,
        "permission_denied",
    )
    assert "four-eyes" in body["detail"]
    assert HumanTask.objects.get(pk=task.pk).status == "open"


def test_a_starters_four_eyes_task_is_in_none_of_the_starters_actionable_lists(run) -> None:
    named, offered = starter_in_the_group(run)
    bob = api(key_for("bob"))
    for view in ("mine", "offered"):
        assert bob.get("/api/v1/tasks", {"view": view}).json()["results"] == [], view
    # He sees them (he started both), he just cannot act on them.
    seen = bob.get("/api/v1/tasks", {"view": "all"}).json()["results"]
    assert sorted(t["id"] for t in seen) == sorted([named.pk, offered.pk])
    carol = api(key_for("carol"))
    listed = carol.get("/api/v1/tasks", {"view": "offered"}).json()["results"]
    assert sorted(t["id"] for t in listed) == sorted([named.pk, offered.pk])


def test_a_second_vote_by_the_same_person_is_409_already_voted(run) -> None:
    run.publish("""
key: board
name: Board
start: vote
steps:
  vote:
    type: approval
    assignees: {groups: [managers]}
    quorum: all
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
""")
    instance = run.start("board", {})
    (task,) = run.open_tasks(instance)
    bob = api(key_for("bob"))
    assert post(bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve"}).status_code == 200
    body = assert_problem(
        post(bob, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "reject"}), 409, "already_voted"
    )
    assert body["detail"].startswith("bob already voted approve on task")
    assert HumanTask.objects.get(pk=task.pk).status == "open"


def test_operators_push_a_task_through_with_a_reason(run) -> None:
    _, task = start(run)
    url = f"/api/v1/tasks/{task.pk}/force"
    assert_problem(post(api(key_for("bob")), url, {"outcome": "approve", "reason": "x"}), 403,
                   "permission_denied")  # fmt: skip
    otto = api(key_for("otto"))
    body = assert_problem(post(otto, url, {"outcome": "approve"}), 400, "invalid_input")
    assert "reason" in body["errors"]
    done = post(otto, url, {"outcome": "approve", "reason": "approved by phone"})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["decided_by"]) == ("completed", "otto")
    forced = ProcessEvent.objects.get(kind="task.forced", payload__task=task.pk)
    assert forced.payload["reason"] == "approved by phone" and forced.client == "api:otto-system"


def test_tasks_of_others_are_404(run) -> None:
    _, task = start(run)
    for name in ("dave", "uma"):
        client = api(key_for(name))
        assert_problem(client.get(f"/api/v1/tasks/{task.pk}"), 404, "not_found")
        for action in ("claim", "release", "complete"):
            assert_problem(
                post(client, f"/api/v1/tasks/{task.pk}/{action}", {"outcome": "approve"}),
                404,
                "not_found",
            )
        assert client.get("/api/v1/tasks").json()["results"] == []
    assert_problem(api(key_for("bob")).get("/api/v1/tasks/999999"), 404, "not_found")


def test_delegation_through_the_api(run) -> None:
    _, task = start(run)
    bob = api(key_for("bob"))
    body = assert_problem(
        post(bob, f"/api/v1/tasks/{task.pk}/delegate", {"user": "nobody"}), 400, "invalid_input"
    )
    assert "user" in body["errors"]
    given = post(bob, f"/api/v1/tasks/{task.pk}/delegate", {"user": "uma", "note": "yours"})
    assert given.status_code == 200 and given.json()["delegate"] == "uma"
    uma = api(key_for("uma"))
    assert [t["id"] for t in uma.get("/api/v1/tasks", {"view": "mine"}).json()["results"]] == [
        task.pk
    ]
    assert post(uma, f"/api/v1/tasks/{task.pk}/complete", {"outcome": "approve"}).status_code == 200


def test_a_key_scoped_to_reading_cannot_act(run) -> None:
    _, task = start(run)
    reader = api(key_for("bob", scopes=["tasks:read"]))
    assert reader.get(f"/api/v1/tasks/{task.pk}").status_code == 200
    body = assert_problem(post(reader, f"/api/v1/tasks/{task.pk}/claim"), 403, "permission_denied")
    assert "tasks:act" in body["detail"]
    assert ApiKey.objects.get(name="bob-system").scopes == ["tasks:read"]


def test_operators_migrate_instances_with_a_dry_run_first(run) -> None:
    pk, task = start(run)
    renamed = PURCHASE_SOURCE.replace("manager_approval", "approval")
    client = api(key_for("admin"))
    post(client, "/api/v1/definitions/purchase-approval/versions", {"source": renamed})
    post(client, "/api/v1/definitions/purchase-approval/versions/2/publish", {"reason": "rename"})
    otto = api(key_for("otto"))
    url = "/api/v1/definitions/purchase-approval/migrations"
    unmapped = post(otto, url, {"from": 1, "to": 2, "dry_run": True}).json()
    assert unmapped["moved"] == [] and unmapped["plan"] == [
        {"instance": pk, "status": "waiting", "problem":
         "step 'manager_approval' has no counterpart in version 2",
         "moves": [{"from": "manager_approval", "to": "manager_approval", "current": True}]}
    ]  # fmt: skip
    assert_problem(post(otto, url, {"from": 1, "to": 2}), 409, "migration_refused")
    mapped = {"from": 1, "to": 2, "map": {"manager_approval": "approval"}}
    dry = post(otto, url, {**mapped, "dry_run": True}).json()
    assert (
        dry["plan"][0]["problem"] is None and ProcessInstance.objects.get(pk=pk).version.number == 1
    )
    done = post(otto, url, mapped).json()
    assert done["moved"] == [pk] and HumanTask.objects.get(pk=task.pk).step == "approval"
    assert_problem(post(api(key_for("bob")), url, mapped), 403, "permission_denied")
    bad = post(otto, url, {"from": 1, "to": 9})
    assert assert_problem(bad, 400, "invalid_input")["errors"] == {
        "version": ["'purchase-approval' has no version 9"]
    }


def test_a_start_answers_201_with_location_open_tasks_and_times_in_one_form(run) -> None:
    alice = api(key_for("alice", name="alice-start"))
    first_step_approval = """
key: quick-ok
name: Quick OK
starters: {groups: [requesters]}
start: ok
steps:
  ok: {type: approval, assignees: {users: [bob]}, due: 1d, outcomes: {approve: done}}
  done: {type: end, result: ok}
"""
    run.publish(first_step_approval)
    made = post(alice, "/api/v1/instances", {"definition": "quick-ok"})
    assert made.status_code == 201
    body = made.json()
    assert made["Location"] == f"http://testserver/api/v1/instances/{body['id']}"
    (task,) = body["open_tasks"]
    assert task["step"] == "ok" and task["assignees"] == [{"user": "bob"}]
    listed = alice.get("/api/v1/instances").json()["results"][0]
    detail = alice.get(made["Location"]).json()
    # Every time is RFC 3339 UTC with Z, in lists and details alike.
    assert listed["created_at"] == detail["created_at"] == body["created_at"]
    assert body["created_at"].endswith("Z") and task["due_at"].endswith("Z")
