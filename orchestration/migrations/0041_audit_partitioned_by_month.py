"""On PostgreSQL the audit table becomes partitioned by month (declarative
partitioning on created_at), so that old months can be exported and dropped
(orchestration/audit/partitions.py, `manage.py archive_audit`). SQLite keeps
one table.

The table is rebuilt: a partitioned twin with the same columns, a monthly
partition for each month that holds rows and the three after this one, and a
DEFAULT partition for rows outside them (a clock far off, say); every row is
copied in id order, the id sequence carries on, and the indexes, foreign keys
and the append-only trigger are made again under their names. The primary
key becomes (id, created_at) (PostgreSQL requires the partition key in it);
ids stay unique, given by the one sequence. A webhook delivery's reference
to its audit row is no longer a database constraint (a foreign key to a
partitioned table must name the whole key), only Django's: audit rows are
never deleted, except whole archived months.

Every row is copied while the audit table is locked (writers wait): on a
large table, migrate in a maintenance window, after timing it on a copy.
Going back rebuilds one plain table.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "orchestration_processevent"
SQL_MONTHS = (
    "SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') "
    "FROM orchestration_processevent"
)
SQL_SETVAL = (
    "SELECT setval(pg_get_serial_sequence('orchestration_processevent', 'id'), "
    "coalesce((SELECT max(id) FROM orchestration_processevent), 0) + 1, false)"
)


AHEAD = 3  # months made ahead (orchestration/audit/partitions.py keeps this many)


def _add_months(day, n):
    month = day.month - 1 + n
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=1)


def _create(cursor, table, month):
    """One month's partition (as orchestration/audit/partitions.py names it)."""
    start, end = month.replace(day=1), _add_months(month, 1)
    cursor.execute(f"CREATE TABLE {table}_y{start:%Y}m{start:%m} PARTITION OF {table} "
                   f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') "
                   f"TO ('{end.isoformat()} 00:00:00+00')")  # fmt: skip


def _rows(cursor, sql, params=None):
    cursor.execute(sql, params or [])
    return cursor.fetchall()


def _rebuild(schema_editor, *, partitioned):
    """Rebuild the audit table as partitioned (or back as one table), keeping
    its rows, id sequence, indexes, foreign keys and trigger."""
    with schema_editor.connection.cursor() as cursor:
        indexes = _rows(cursor, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                        "AND indexname <> %s", [TABLE, f"{TABLE}_pkey"])  # fmt: skip
        foreign = _rows(cursor, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype = 'f'", [TABLE])  # fmt: skip
        identity = _rows(cursor, "SELECT attidentity FROM pg_attribute WHERE attrelid = "
                         "%s::regclass AND attname = 'id'", [TABLE])[0][0]  # fmt: skip
        sequence = _rows(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
        new = f"{TABLE}_rebuilt"
        how = " PARTITION BY RANGE (created_at)" if partitioned else ""
        cursor.execute(f"CREATE TABLE {new} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY "
                       f"INCLUDING CONSTRAINTS){how}")  # fmt: skip
        key = "id, created_at" if partitioned else "id"
        cursor.execute(f"ALTER TABLE {new} ADD CONSTRAINT {new}_pkey PRIMARY KEY ({key})")
        if partitioned:
            months = _rows(cursor, SQL_MONTHS)
            today = _rows(cursor, "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')")[0][0]
            wanted = {m.date() for (m,) in months} | {_add_months(today.date(), n)
                                                      for n in range(AHEAD + 1)}  # fmt: skip
            for month in sorted(wanted):
                _create(cursor, new, month)
            cursor.execute(f"CREATE TABLE {new}_default PARTITION OF {new} DEFAULT")
        if not identity and sequence:  # a serial id (an older database): keep its sequence
            cursor.execute(f"ALTER TABLE {new} ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
            cursor.execute(f"ALTER SEQUENCE {sequence} OWNED BY {new}.id")
        cursor.execute(f"INSERT INTO {new} SELECT * FROM {TABLE} ORDER BY id")  # noqa: S608
        cursor.execute(f"DROP TABLE {TABLE}")
        cursor.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {new}_pkey TO {TABLE}_pkey")
        if partitioned:
            cursor.execute(f"ALTER TABLE {new}_default RENAME TO {TABLE}_default")
            for (name,) in _rows(cursor, "SELECT inhrelid::regclass::text FROM pg_inherits "
                                 "WHERE inhparent = %s::regclass", [TABLE]):  # fmt: skip
                if name.startswith(new):
                    cursor.execute(f"ALTER TABLE {name} RENAME TO {TABLE}{name[len(new) :]}")
        if identity:
            cursor.execute(SQL_SETVAL)
        for _name, definition in indexes:
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
        for name, definition in foreign:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        cursor.execute(
            f"CREATE TRIGGER orchestration_audit_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION orchestration_audit_removal_only()"
        )


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=True)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("orchestration", "0040_purge_schedule")]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="orchestration.processevent",
                verbose_name="event",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
