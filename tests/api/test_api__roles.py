"""Every endpoint for every role of the demo: what each may read and do
through the API, by status (404 where the object is hidden, 403 with the
policy's reason where it is seen but not theirs to act on)."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask
from tests.api.conftest import api, key_for, post
from tests.api.test_api__foundation import START

pytestmark = pytest.mark.django_db

# alice: requester who started the purchase; bob: manager (its approver);
# uma: approver of another group; otto: operator; audrey: auditor;
# admin: process admin (and a superuser in the demo).
ROLES = ["alice", "bob", "uma", "otto", "audrey", "admin"]

READS = {
    # path template: expected status per role
    "/api/v1/definitions": dict.fromkeys(ROLES, 200),
    "/api/v1/definitions/purchase-approval": {
        "alice": 200,
        "bob": 404,
        "uma": 404,
        "otto": 200,
        "audrey": 200,
        "admin": 200,
    },
    "/api/v1/instances/{instance}": {
        "alice": 200,
        "bob": 404,
        "uma": 404,
        "otto": 200,
        "audrey": 200,
        "admin": 200,
    },
    "/api/v1/instances/{instance}/history": {
        "alice": 200,
        "bob": 404,
        "uma": 404,
        "otto": 200,
        "audrey": 200,
        "admin": 200,
    },
    "/api/v1/tasks/{task}": {
        "alice": 200,
        "bob": 200,
        "uma": 404,
        "otto": 200,
        "audrey": 200,
        "admin": 200,
    },
}
ACTIONS = {
    # (path template, body): expected status per role; each on a fresh purchase
    ("/api/v1/tasks/{task}/claim", None): {
        "alice": 403,
        "bob": 200,
        "uma": 404,
        "otto": 403,
        "audrey": 403,
        "admin": 403,
    },
    ("/api/v1/tasks/{task}/complete", '{"outcome": "approve"}'): {
        "alice": 403,
        "bob": 200,
        "uma": 404,
        "otto": 403,
        "audrey": 403,
        "admin": 403,
    },
    ("/api/v1/instances/{instance}/cancel", None): {
        "alice": 403,
        "bob": 404,
        "uma": 404,
        "otto": 200,
        "audrey": 403,
        "admin": 200,
    },
    ("/api/v1/instances", "start"): {
        "alice": 201,
        "bob": 403,
        "uma": 403,
        "otto": 403,
        "audrey": 403,
        "admin": 403,
    },
}


def purchase(run) -> tuple[int, int]:
    pk = post(
        api(key_for("alice", name=f"starter-{run.now.timestamp()}-{HumanTask.objects.count()}")),
        "/api/v1/instances",
        START,
    ).json()["id"]
    run.run()
    return pk, HumanTask.objects.get(instance_id=pk, status="open").pk


@pytest.mark.parametrize("path", list(READS))
def test_reads_by_role(run, path) -> None:
    instance, task = purchase(run)
    for role, expected in READS[path].items():
        answer = api(key_for(role, name=f"{role}-reads")).get(
            path.format(instance=instance, task=task)
        )
        assert answer.status_code == expected, (role, path, answer.content[:200])


@pytest.mark.parametrize(("path", "body"), list(ACTIONS))
def test_actions_by_role(run, path, body) -> None:
    for role, expected in ACTIONS[(path, body)].items():
        instance, task = purchase(run)
        client = api(key_for(role, name=f"{role}-{instance}"))
        if body == "start":
            answer = post(client, path, START)
        else:
            answer = client.post(
                path.format(instance=instance, task=task),
                body or "{}",
                content_type="application/json",
            )
        assert answer.status_code == expected, (role, path, answer.content[:200])
        if expected == 403:
            assert answer.json()["detail"]  # the policy's reason
