"""Retention, erasure and holds on /metrics: the purge's backlog as a queue,
removals and erasures counted from the audit log, holds in force as a gauge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestration.retention import erasure, holds, purge
from tests.conftest import make_user
from tests.orchestration.retention.conftest import ended, settle
from tests.scrape import scrape, value

pytestmark = pytest.mark.django_db


def test_the_purge_backlog_removals_erasures_and_holds(client, settings, run) -> None:
    auditor, operator = make_user("aud", "auditor"), make_user("otto", "operator")
    first, second, third = ended(run), ended(run, employee="Noé"), ended(run, employee="Ida")
    holds.place(actor=auditor, reason="Litigation 2031-17", instance=second)
    settle(run)
    samples = scrape(client, settings)
    assert value(samples, "orchestration_queue_depth", queue="retention") == 0
    assert value(samples, "orchestration_legal_holds_active", scope="instance") == 1
    assert value(samples, "orchestration_legal_holds_active", scope="subject") == 0
    assert value(samples, "orchestration_legal_hold_changes_total", action="placed") == 1

    erasure.erase(actor=operator, reason="DSAR 20", value="Ida")  # erased now, not later
    settle(run)
    samples = scrape(client, settings)
    assert value(samples, "orchestration_subject_erasures_total") == 1
    assert value(samples, "orchestration_data_removals_total", reason="erasure") == 1
    assert value(samples, "orchestration_data_removed_rows_total", reason="erasure") >= 3

    run.now = first.ended_at + timedelta(days=30, hours=2)  # two hours past due; one held
    samples = scrape(client, settings)
    assert value(samples, "orchestration_queue_depth", queue="retention") == 1
    oldest = value(samples, "orchestration_queue_oldest_seconds", queue="retention")
    assert 7200 - 60 < oldest <= 7200

    purge.purge_due()
    settle(run)
    samples = scrape(client, settings)
    assert value(samples, "orchestration_queue_depth", queue="retention") == 0
    assert value(samples, "orchestration_data_removals_total", reason="retention") == 1
    assert value(samples, "orchestration_data_removed_rows_total", reason="retention") >= 3
    assert third.pk
