"""Round-robin allocation under several processes on PostgreSQL: tasks that
open at the same moment go to people in turn, never twice to one while
another's turn is skipped."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from django.db import connections

from orchestration import services
from orchestration.models import HumanTask
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES = 4
EACH = 6
TURNS = """
key: turns
name: Turns
start: approve
steps:
  approve:
    type: approval
    assignees: {groups: [buyers], policy: round_robin}
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


def _start_many(barrier, queue) -> None:
    try:
        barrier.wait()
        for _ in range(EACH):
            services.instance_start(key="turns", variables={}, actor=None)
        queue.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(repr(exc))
    finally:
        connections.close_all()


def test_tasks_opening_at_once_are_allocated_in_turn(roles) -> None:
    for name in ("ann", "ben", "cat"):
        make_user(name, "buyers")
    publish(TURNS)
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_start_many, args=(barrier, queue)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    answers = [queue.get(timeout=90) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert answers == ["ok"] * PROCESSES
    taken = Counter(HumanTask.objects.values_list("claimed_by__username", flat=True))
    # 24 tasks over 3 people in turn: exactly 8 each, whatever the interleaving.
    assert taken == {"ann": 8, "ben": 8, "cat": 8}
