"""The example external worker in docs/ runs a process through against a
live server (a real HTTP server, the script in its own process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import services
from orchestration.demo import seed
from orchestration.testing import ProcessTest
from tests.api.conftest import key_for
from tests.api.test_api__external_tasks import SHIPPING

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "external_worker.py"


@pytest.mark.django_db(transaction=True)
def test_the_example_worker_ships_an_order(live_server) -> None:
    seed.seed_users()
    with ProcessTest() as run:
        run.publish(SHIPPING)
        token = key_for("otto")
        instance = services.instance_start(
            key="shipping", variables={"order": "A-7"}, actor=None, business_key="A-7"
        )
        for _ in range(2):  # reserve, then ship
            run.run()
            subprocess.run(
                [
                    sys.executable,
                    str(SCRIPT),
                    "--url",
                    live_server.url,
                    "--topic",
                    "warehouse",
                    "--topic",
                    "carrier",
                    "--worker-id",
                    "docs-example",
                    "--once",
                ],
                env={**os.environ, "PROCESS_ENGINE_TOKEN": token},
                check=True,
                timeout=60,
            )
        run.run()
        instance.refresh_from_db()
    assert instance.status == "completed"
    assert instance.variables["slot"] == "slot-for-A-7"
