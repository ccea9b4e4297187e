from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration import services
from orchestration.engine.worker import Worker
from orchestration.jobs import SIDE
from orchestration.models import ProcessVersion
from tests.conftest import Clock, make_user
from tests.orchestration.engine import email_backends
from tests.orchestration.engine import handlers as test_handlers
from tests.orchestration.factories import DEMO_DIR


@pytest.fixture
def worker(clock: Clock) -> Iterator[Worker]:
    w = Worker("test-worker", clock=clock, side=SIDE)
    yield w
    w.close()


@pytest.fixture(autouse=True)
def _reset_handlers() -> Iterator[None]:
    # Before and after: a failing test must not leave a plan, a gate or a
    # ledger path behind for the next one.
    test_handlers.reset()
    email_backends.DOWN["down"] = False
    email_backends.REFUSE.clear()
    yield
    test_handlers.reset()
    email_backends.DOWN["down"] = False
    email_backends.REFUSE.clear()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """The file `test.ledger` handlers append to, one line per call (any process)."""
    path = tmp_path / "ledger.txt"
    test_handlers.LEDGER["path"] = str(path)
    return path


# Definitions several test modules run.
ONE_STEP = """
key: one
name: One
start: a
steps:
  a: {type: service, handler: test.a, next: done}
  done: {type: end, result: ok}
"""
THREE_STEPS = """
key: three
name: Three steps
start: a
steps:
  a: {type: service, handler: test.ledger, next: b}
  b: {type: service, handler: test.ledger, next: c}
  c: {type: service, handler: test.ledger, next: done}
  done: {type: end, result: done}
"""


def publish(source: str) -> ProcessVersion:
    draft = services.version_save_draft(source=source, actor=None).version
    return services.version_publish(version=draft, actor=None)


@pytest.fixture
def demo_definitions(db: None, settings) -> None:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["127.0.0.1:8000"]
    for key in ("identity-check", "purchase-approval", "loan-approval", "order-fulfillment"):
        publish((DEMO_DIR / f"{key}.yaml").read_text())


@pytest.fixture
def people(roles):
    manager = make_user("molly", "requester", "managers")
    director = make_user("dirk", "directors")
    starter = make_user("sam", "requester", "requesters")
    operator = make_user("opal", "operator")
    return {"manager": manager, "director": director, "starter": starter, "operator": operator}


def candidates(task) -> list[str]:
    """A task's candidates as stored now: usernames, then group names, each in
    the task's order."""
    from orchestration.candidates import names_of

    task.refresh_from_db(fields=["candidate_users", "candidate_groups"])
    users, groups = names_of([task])[task.pk]
    return [*users, *groups]
