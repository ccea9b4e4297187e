"""ORCHESTRATION_PREPARED_STATEMENTS: the engine's statements are prepared once
per connection on PostgreSQL, or never (a pooler that cannot carry them)."""

from __future__ import annotations

import pytest
from django.db import connection

from orchestration import services
from tests.orchestration.engine.conftest import ONE_STEP, publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("on", [True, False])
def test_the_engine_prepares_its_statements_only_when_told(settings, on: bool) -> None:
    settings.ORCHESTRATION_PREPARED_STATEMENTS = on
    connection.close()  # a fresh connection: nothing prepared yet
    publish(ONE_STEP)
    for _ in range(2):
        services.instance_start(key="one", variables={}, actor=None)
    starts = [s for s in prepared() if s.startswith('INSERT INTO "orchestration_processinstance"')]
    assert len(starts) == (1 if on else 0), prepared()
