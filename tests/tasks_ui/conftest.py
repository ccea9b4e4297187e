"""The inbox's tests run on the demo's people and purchase approval."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.models import User
from orchestration.demo import seed
from orchestration.models import HumanTask
from orchestration.testing import ProcessTest
from tests.orchestration.factories import PURCHASE_SOURCE


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(PURCHASE_SOURCE)
        yield running


def purchase(run: ProcessTest, item: str = "desk", amount: int = 5000, *,
             as_: str = "alice") -> HumanTask:  # fmt: skip
    """Start a purchase that needs a manager; its open approval task."""
    instance = run.start("purchase-approval", {"item": item, "amount": amount}, as_=as_)
    (task,) = run.open_tasks(instance)
    return task


def login(client, username: str) -> User:
    user = User.objects.get(username=username)
    client.force_login(user)
    return user
