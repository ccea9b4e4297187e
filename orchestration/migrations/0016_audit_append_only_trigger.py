"""On PostgreSQL the audit table refuses UPDATE and DELETE, whoever asks
(a psql session included), except the two writes the product makes: stamping
an outbox row sent (dispatched_at, once) and sealing a row (seal_seq and
seal, once). See orchestration/audit/chain.py."""

from django.db import migrations

FUNCTION = """
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
TRIGGER = """
CREATE TRIGGER orchestration_audit_append_only
BEFORE UPDATE OR DELETE ON orchestration_processevent
FOR EACH ROW EXECUTE FUNCTION orchestration_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS orchestration_audit_append_only ON orchestration_processevent;
DROP FUNCTION IF EXISTS orchestration_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)
        schema_editor.execute(TRIGGER, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("orchestration", "0015_audit_request_and_seal")]

    operations = [migrations.RunPython(forwards, backwards)]
