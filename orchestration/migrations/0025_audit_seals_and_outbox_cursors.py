"""The audit chain moves beside the rows: one AuditSeal per sealed batch
instead of a seal written into every row, and the outbox reads the sealed log
by a cursor per consumer instead of stamping every row it sent.

The existing chain carries on unbroken: its rows become seals of 2,000 rows in
their old order, each entry the row's id and the start of its old seal (the
same link as before), each seal's link the old seal of its last row. The
webhook cursor keeps its place; the mail cursor starts at the first sealed
notification that was still to be sent (rows stamped sent are skipped by
their stamp). Going back leaves the rows unsealed: the older release then
seals them again from its genesis.
"""

import struct

import django.db.models.deletion  # noqa: F401
import orchestration.clock
from django.conf import settings
from django.db import migrations, models

BATCH = 2000
ENTRY = struct.Struct(">q8s")  # as orchestration/audit/hashchain.py: id, start of its link
GENESIS = "0" * 64


def convert(apps, schema_editor):
    event = apps.get_model("orchestration", "ProcessEvent")
    seal = apps.get_model("orchestration", "AuditSeal")
    cursor = apps.get_model("orchestration", "OutboxCursor")
    old = event.objects.filter(seal_seq__isnull=False).order_by("seal_seq")
    rows = old.values_list("id", "seal_seq", "seal", "kind", "dispatched_at")
    place = {}  # old seal number -> (new seal, index in it)
    first_mail = None
    batch, number, previous, high = [], 0, GENESIS, 0

    def flush():
        nonlocal batch, number, previous
        number += 1
        ids = [pk for pk, _ in batch]
        entries = b"".join(ENTRY.pack(pk, bytes.fromhex(link[:16])) for pk, link in batch)
        seal.objects.create(seq=number, count=len(batch), first_id=min(ids), last_id=max(ids),
                            entries=entries, previous=previous, link=batch[-1][1],
                            high_water=high, holes=[])
        previous, batch = batch[-1][1], []

    for pk, seq, link, kind, dispatched in rows.iterator(chunk_size=BATCH):
        place[seq] = (number + 1, len(batch))
        if first_mail is None and kind == "notification" and dispatched is None:
            first_mail = place[seq]
        batch.append((pk, link))
        high = max(high, pk)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    if number:
        # Rows below the high-water mark not sealed yet: holes the sealer looks at.
        late = event.objects.filter(seal_seq__isnull=True, id__lt=high).values_list("id", flat=True)
        holes = [[pk, pk, 0.0] for pk in late]
        seal.objects.filter(seq=number).update(high_water=high, holes=holes)
    end = (number + 1, 0)
    cursor.objects.update_or_create(name="mail", defaults=dict(zip(("position", "offset"),
                                                                   first_mail or end)))
    webhooks = cursor.objects.filter(name="webhooks").first()
    if webhooks is not None:
        position, offset = place.get(webhooks.position + 1, end)
        webhooks.position, webhooks.offset = position, offset
        webhooks.save()


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION orchestration_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused (%)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orchestration_audit_seal_append_only
BEFORE UPDATE OR DELETE ON orchestration_auditseal
FOR EACH ROW EXECUTE FUNCTION orchestration_audit_append_only();
"""
BEFORE = """
DROP TRIGGER IF EXISTS orchestration_audit_seal_append_only ON orchestration_auditseal;
CREATE OR REPLACE FUNCTION orchestration_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit log is append-only: DELETE refused (row %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - 'dispatched_at' - 'seal_seq' - 'seal')
        IS DISTINCT FROM (to_jsonb(OLD) - 'dispatched_at' - 'seal_seq' - 'seal')
       OR (OLD.dispatched_at IS NOT NULL AND NEW.dispatched_at IS DISTINCT FROM OLD.dispatched_at)
       OR (OLD.seal_seq IS NOT NULL AND NEW.seal_seq IS DISTINCT FROM OLD.seal_seq)
       OR (OLD.seal IS NOT NULL AND NEW.seal IS DISTINCT FROM OLD.seal) THEN
        RAISE EXCEPTION 'the audit log is append-only: UPDATE refused (row %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def triggers_back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BEFORE, params=None)



class Migration(migrations.Migration):

    dependencies = [
        ('orchestration', '0024_webhook_circuit_breaker'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('seq', models.BigIntegerField(primary_key=True, serialize=False)),
                ('sealed_at', models.DateTimeField(default=orchestration.clock.now)),
                ('count', models.PositiveIntegerField()),
                ('first_id', models.BigIntegerField()),
                ('last_id', models.BigIntegerField(db_index=True)),
                ('entries', models.BinaryField()),
                ('previous', models.CharField(max_length=64)),
                ('link', models.CharField(max_length=64)),
                ('high_water', models.BigIntegerField()),
                ('holes', models.JSONField(blank=True, default=list)),
            ],
            options={
                'ordering': ['seq'],
            },
        ),
        migrations.RenameModel("WebhookCursor", "OutboxCursor"),
        migrations.AddField(
            model_name='outboxcursor',
            name='offset',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(convert, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='processevent',
            name='event_outbox',
        ),
        migrations.RemoveIndex(
            model_name='processevent',
            name='event_unsealed',
        ),
        migrations.RemoveField(
            model_name='processevent',
            name='seal',
        ),
        migrations.RemoveField(
            model_name='processevent',
            name='seal_seq',
        ),
        migrations.AlterField(
            model_name='processevent',
            name='dispatched_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name='processevent',
            index=models.Index(condition=models.Q(('kind', 'notification')), fields=['id'], name='event_notifications'),
        ),
        migrations.RunPython(triggers, triggers_back),
    ]
