"""Migration 0038 reseals an existing chain under the rule that seals digests
of personal values, from a checkpoint it records; a chain already broken stops
it, naming the row, unless told to go on (the checkpoint then says where)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orchestration.audit import chain as audit_chain
from orchestration.audit.hashchain import CONTENT, GENESIS, link_rows
from orchestration.models import AuditSeal, ProcessEvent

BEFORE = [("orchestration", "0037_step_day_late")]
RESEAL = importlib.import_module("orchestration.migrations.0038_audit_seal_covers_digests")


@pytest.mark.django_db(transaction=True)
def test_a_broken_old_chain_stops_the_reseal_until_told_and_the_checkpoint_names_it(
    monkeypatch,
) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    event, seal = (
        old.get_model("orchestration", "ProcessEvent"),
        old.get_model("orchestration", "AuditSeal"),
    )
    rows = [event.objects.create(kind="k", payload={"n": n, "who": "Zoë"}) for n in range(4)]
    content = {r["id"]: r for r in event.objects.values(*CONTENT)}
    digests = [(r.pk, RESEAL.whole_digest(content[r.pk])) for r in rows]
    digests[3] = (rows[3].pk, "e" * 64)  # sealed as something else: the old chain breaks here
    previous = GENESIS
    for number, batch in enumerate([digests[:2], digests[2:]], 1):
        entries, link = link_rows(previous, batch)
        ids = [pk for pk, _ in batch]
        seal.objects.create(
            seq=number, count=2, first_id=min(ids), last_id=max(ids), entries=entries,
            previous=previous, link=link, high_water=max(ids), holes=[],
        )  # fmt: skip
        previous = link

    executor = MigrationExecutor(connection)
    with pytest.raises(RuntimeError, match=f"row {rows[3].pk} \\(seal #2\\) does not match"):
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert not ProcessEvent.objects.filter(kind="audit.resealed").exists()  # nothing changed

    monkeypatch.setenv("ORCHESTRATION_RESEAL_BROKEN_CHAIN", "1")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    checkpoint = ProcessEvent.objects.get(kind="audit.resealed").payload
    assert checkpoint["broken"] == f"row {rows[3].pk} (seal #2) does not match its seal"
    assert (checkpoint["seals"], checkpoint["rows"], checkpoint["link_before"]) == (2, 4, "")
    assert checkpoint["link_after"] == AuditSeal.objects.get(seq=2).link
    # Resealed as the rows are now, under today's rule: the chain holds from here.
    assert audit_chain.seal_pending() == 1
    assert audit_chain.verify() == audit_chain.Verdict(5, 0, "")
