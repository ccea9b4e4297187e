"""Migration 0025 carries an existing per-row chain over into seals without a
break, and the outbox cursors keep their places."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from orchestration.audit import chain as audit_chain
from orchestration.audit.hashchain import CONTENT, GENESIS, chain, entries_of
from orchestration.models import OutboxCursor, ProcessEvent
from orchestration.side_effects import mail

BEFORE = [("orchestration", "0024_webhook_circuit_breaker")]
MIGRATION = importlib.import_module("orchestration.migrations.0025_audit_seals_and_outbox_cursors")
# The rule the chain was sealed by then: the whole content (0038 changed it).
RESEAL = importlib.import_module("orchestration.migrations.0038_audit_seal_covers_digests")
digest = RESEAL.whole_digest


@pytest.mark.django_db(transaction=True)
def test_an_old_chain_becomes_seals_that_verify_and_the_cursors_keep_their_place(
    monkeypatch,
) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    event, cursor = (
        old.get_model("orchestration", "ProcessEvent"),
        old.get_model("orchestration", "WebhookCursor"),
    )
    sent = datetime(2030, 1, 2, tzinfo=UTC)
    kinds = ["a", "b", "c", "late", "notification", "notification"]
    # Row 5 is a notification still to be sent; row 4 committed late, unsealed.
    rows = [event.objects.create(kind=kind, payload={"n": n, "text": "é"},
                                 dispatched_at=None if n == 4 else sent)
            for n, kind in enumerate(kinds)]  # fmt: skip
    link, links = GENESIS, {}
    for number, row in enumerate([r for r in rows if r.kind != "late"], 1):
        link = chain(link, digest(event.objects.filter(pk=row.pk).values(*CONTENT).get()))
        event.objects.filter(pk=row.pk).update(seal_seq=number, seal=link)
        links[row.pk] = link
    cursor.objects.create(name="webhooks", position=2)  # fanned out up to old seal #2
    monkeypatch.setattr(MIGRATION, "BATCH", 2)
    executor = MigrationExecutor(connection)
    executor.migrate([("orchestration", "0037_step_day_late")])
    seal = executor.loader.project_state([("orchestration", "0037_step_day_late")]).apps
    seals = seal.get_model("orchestration", "AuditSeal").objects.order_by("seq")

    ids = [r.pk for r in rows]
    assert [[pk for pk, _ in entries_of(bytes(s.entries))] for s in seals] == [
        [ids[0], ids[1]], [ids[2], ids[4]], [ids[5]],
    ]  # fmt: skip
    assert seals.get(seq=3).link == links[ids[5]]  # the same chain, unbroken
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    checkpoint = ProcessEvent.objects.get(kind="audit.resealed").payload
    assert checkpoint["link_before"] == links[ids[5]] and checkpoint["broken"] == ""
    # 0038 resealed it under today's rule from a checkpoint (a row, unsealed yet).
    assert audit_chain.verify() == audit_chain.Verdict(5, 2, "")
    assert audit_chain.seal_pending() == 2  # the late row and the checkpoint, after the others
    assert audit_chain.seals_of([ids[3]]) == {ids[3]: 4}
    assert audit_chain.verify() == audit_chain.Verdict(7, 0, "")
    webhooks = OutboxCursor.objects.get(name="webhooks")
    assert (webhooks.position, webhooks.offset) == (2, 0)  # next: old seal #3, row 3
    position = OutboxCursor.objects.get(name="mail")
    assert (position.position, position.offset) == (2, 1)  # at the unsent notification
    assert list(mail.waiting().values_list("pk", flat=True)) == [ids[4]]
