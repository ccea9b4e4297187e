"""Production logs: one JSON object per line, saying which request, person,
instance, step, worker and attempt each line is about."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from orchestration import services
from orchestration.log_context import JsonLines, LogContext
from tests.orchestration.engine import handlers
from tests.orchestration.engine.conftest import ONE_STEP, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict]]]:
    """What the production console handler writes (the settings' own formatter
    and filter), as parsed lines."""
    options = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines(**options))
    handler.addFilter(LogContext())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_request_line_names_the_request_and_the_person(client, people, lines) -> None:
    client.force_login(people["manager"])
    response = client.get("/tasks/999999/", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404
    logging.getLogger("probe").info("after the request")  # outside it: no request fields
    written = lines()
    for_request = [line for line in written if line.get("request_id") == "req-42"]
    assert for_request, [sorted(line.items()) for line in written]
    assert for_request[0]["user"] == "molly" and for_request[0]["level"] == "WARNING"
    assert {"time", "logger", "message"} <= set(for_request[0])
    assert "request" not in for_request[0]  # the object itself stays out
    after = [line for line in written if line["message"] == "after the request"]
    assert "request_id" not in after[0] and "user" not in after[0]


def test_a_worker_line_names_the_instance_step_attempt_and_worker(people, worker, lines) -> None:
    publish(ONE_STEP)
    handlers.PLAN["test.a"] = ["crash"]
    instance = services.instance_start(key="one", variables={}, actor=None)
    worker.run_until_idle()
    written = lines()
    crashed = [line for line in written if line["message"].startswith("step a of instance")]
    assert crashed, written
    line = crashed[0]
    assert (line["instance"], line["step"], line["attempt"], line["worker"]) == (
        instance.pk,
        "a",
        1,
        "test-worker",
    )
    assert line["level"] == "ERROR" and "ZeroDivisionError" in line["exc_info"]
    assert line["time"].endswith("+00:00")  # ISO 8601, UTC
