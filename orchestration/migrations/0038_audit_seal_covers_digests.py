"""The seal covers a digest of each personal value (each payload key, the
reason, the client address), not the value itself, so that retention and
erasure can remove values and leave the chain verifiable
(orchestration/audit/hashchain.py, docs/security.md "What is kept").

Existing chains are resealed from a recorded checkpoint: the old chain is
walked first with the old rule (whole content) and must hold, row by row; then
every seal gets its entries and links again under the new rule, in the same
order, and an `audit.resealed` row records the checkpoint: the number of seals
and rows, the old chain's last link and the new one's. That row is sealed in
turn, so the checkpoint itself is under the chain. A broken old chain stops
the migration with the row it breaks at (resealing would hide it), unless
ORCHESTRATION_RESEAL_BROKEN_CHAIN=1 says to go on: the checkpoint then
records the break, and only the rows before it are resealed as holding.

On PostgreSQL the audit table's trigger allows one change besides none: the
removal of values (payload keys, reason, client address), marked under the
payload's `_removed`, inside a transaction that says so (SET LOCAL
orchestration.removing = 'on'; orchestration/audit/removal.py).

Going back: the seals are resealed under the old rule (a row whose values
were removed no longer verifies under it: going back after a removal leaves
that row reported as changed).
"""

import hashlib
import json
import os
import struct
from datetime import UTC, datetime

from django.db import migrations

ENTRY = struct.Struct(">q8s")
GENESIS = "0" * 64
CONTENT = ("id", "created_at", "kind", "actor_id", "client", "definition_id", "version_id",
           "instance_id", "step", "from_status", "to_status", "reason", "payload",
           "request_id", "ip")  # fmt: skip


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)  # fmt: skip


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(row):
    values = {k: row[k] for k in CONTENT}
    if isinstance(values["created_at"], datetime):
        values["created_at"] = values["created_at"].astimezone(UTC).isoformat()
    return values


def whole_digest(row):
    """The rule before this migration: the whole content."""
    return _sha(_json(_canonical(row)))


def value_digest(value):
    return _sha(_json(value))


def parts_digest(row):
    """The rule from this migration on (orchestration.audit.hashchain.digest,
    for rows nothing was removed from yet)."""
    values = _canonical(row)
    payload = values["payload"]
    if isinstance(payload, dict):
        values["payload"] = {k: value_digest(v) for k, v in payload.items()}
    else:
        values["payload"] = value_digest(payload)
    for name in ("reason", "ip"):
        values[name] = value_digest(values[name])
    return _sha(_json(values))


def _chain(previous, row_digest):
    return hashlib.sha256(f"{previous}{row_digest}".encode()).hexdigest()


def _reseal(apps, schema_editor, old_rule, new_rule, kind):
    seal_model = apps.get_model("orchestration", "AuditSeal")
    event = apps.get_model("orchestration", "ProcessEvent")
    postgres = schema_editor.connection.vendor == "postgresql"
    if not seal_model.objects.exists():
        return
    if postgres:
        schema_editor.execute(
            "ALTER TABLE orchestration_auditseal "
            "DISABLE TRIGGER orchestration_audit_seal_append_only"
        )
    old_link, new_link, rows, seals, broken = GENESIS, GENESIS, 0, 0, ""
    for seal in seal_model.objects.order_by("seq").iterator(chunk_size=20):
        pairs = [(pk, short.hex()) for pk, short in ENTRY.iter_unpack(bytes(seal.entries))]
        found = {
            r["id"]: r
            for r in event.objects.filter(pk__in=[pk for pk, _ in pairs]).values(*CONTENT)
        }
        entries = bytearray()
        previous_new = new_link
        for pk, short in pairs:
            row = found.get(pk)
            if not broken:
                if row is None:
                    broken = f"row {pk} (seal #{seal.seq}) is missing"
                else:
                    old_link = _chain(old_link, old_rule(row))
                    if old_link[:16] != short:
                        broken = f"row {pk} (seal #{seal.seq}) does not match its seal"
            if broken and not os.environ.get("ORCHESTRATION_RESEAL_BROKEN_CHAIN"):
                raise RuntimeError(
                    f"The audit chain is broken before this release's reseal: {broken}. "
                    "Run `manage.py verify_audit` on the previous release to see it; "
                    "resealing would hide it. To reseal anyway, recording the break in "
                    "the checkpoint, set ORCHESTRATION_RESEAL_BROKEN_CHAIN=1."
                )
            # After a break (accepted), the rows are resealed as they are now:
            # the checkpoint says where the old chain stopped holding.
            new_link = _chain(new_link, new_rule(row) if row else GENESIS)
            entries += ENTRY.pack(pk, bytes.fromhex(new_link[:16]))
            rows += 1
        if not broken and old_link != seal.link:
            broken = f"seal #{seal.seq} does not match its rows' links"
        seal_model.objects.filter(seq=seal.seq).update(
            entries=bytes(entries), previous=previous_new, link=new_link
        )
        seals += 1
    if postgres:
        schema_editor.execute(
            "ALTER TABLE orchestration_auditseal "
            "ENABLE TRIGGER orchestration_audit_seal_append_only"
        )
    event.objects.create(kind=kind, client="migration", payload={
        "seals": seals, "rows": rows, "link_before": old_link if not broken else "",
        "link_after": new_link, "broken": broken,
        "rule": "digests of personal values" if new_rule is parts_digest else "whole content",
    })  # fmt: skip


def forwards(apps, schema_editor):
    _reseal(apps, schema_editor, whole_digest, parts_digest, "audit.resealed")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVAL_TRIGGER, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_TRIGGER, params=None)
    _reseal(apps, schema_editor, parts_digest, whole_digest, "audit.resealed")


REMOVAL_TRIGGER = """
CREATE OR REPLACE FUNCTION orchestration_audit_removal_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('orchestration.removing', true) = 'on'
       AND (to_jsonb(NEW) - 'payload' - 'reason' - 'ip')
           = (to_jsonb(OLD) - 'payload' - 'reason' - 'ip')
       AND jsonb_typeof(NEW.payload -> '_removed') = 'object' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused (row %)', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS orchestration_audit_append_only ON orchestration_processevent;
CREATE TRIGGER orchestration_audit_append_only
BEFORE UPDATE OR DELETE ON orchestration_processevent
FOR EACH ROW EXECUTE FUNCTION orchestration_audit_removal_only();
"""
APPEND_ONLY_TRIGGER = """
DROP TRIGGER IF EXISTS orchestration_audit_append_only ON orchestration_processevent;
CREATE TRIGGER orchestration_audit_append_only
BEFORE UPDATE OR DELETE ON orchestration_processevent
FOR EACH ROW EXECUTE FUNCTION orchestration_audit_append_only();
DROP FUNCTION IF EXISTS orchestration_audit_removal_only();
"""


class Migration(migrations.Migration):
    dependencies = [("orchestration", "0037_step_day_late")]

    operations = [migrations.RunPython(forwards, backwards)]
