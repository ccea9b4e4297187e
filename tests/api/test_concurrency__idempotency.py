"""Replays of one Idempotency-Key racing on PostgreSQL act once: one process
starts the instance, the others wait for its answer and return it."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connections

from orchestration.models import ProcessInstance
from tests.api.conftest import api, key_for, post
from tests.api.test_api__foundation import START

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PROCESSES = 4


def _replay(barrier, queue, token: str, body: dict) -> None:
    try:
        client = api(token)
        barrier.wait()
        answer = post(client, "/api/v1/instances", body, **{"Idempotency-Key": "race-1"})
        queue.put((answer.status_code, answer.content.decode()))
    finally:
        connections.close_all()


def test_racing_replays_start_one_instance_and_all_get_its_answer(run) -> None:
    token = key_for("alice")
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_replay, args=(barrier, queue, token, START)) for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    answers = [queue.get(timeout=5) for _ in range(PROCESSES)]
    assert {status for status, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1  # the same instance for everyone
    assert ProcessInstance.objects.count() == 1


def test_racing_replays_with_different_bodies_act_once(run) -> None:
    token = key_for("alice")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    bodies = [START, {**START, "business_key": "other"}]
    procs = [ctx.Process(target=_replay, args=(barrier, queue, token, body)) for body in bodies]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    statuses = sorted(queue.get(timeout=5)[0] for _ in bodies)
    assert statuses == [201, 422]
    assert ProcessInstance.objects.count() == 1
