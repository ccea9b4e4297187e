"""Hand-written statements for the engine's hot paths.

The ORM compiles every query anew: on this hardware that is 0.3-1 ms of CPU per
statement, more than the database spends running it, and a transition runs
about ten of them (profiled in bench/engine.py, see docs/performance.md). The
helpers here build each statement's text once per model and process, and turn
rows into model instances with the fields' own database converters, so the
result is what the ORM would have returned. Only `%s` parameters carry values;
identifiers come from model metadata. On PostgreSQL the statements use
server-side binding and a transition's statements travel as pipelines (one
round trip each); errors are still Django's. Everything else uses the ORM.
Tested against the ORM in tests/orchestration/engine/test_sql.py.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Model, QuerySet

from orchestration.models.fields import IdListField, array_literal

# (vendor, model) -> (column list, [(index, converters, column expression)], fields)
_SelectPlan = tuple[str, list[tuple[int, list[Any], Any]], list[Any]]
_selects: dict[tuple[str, type[Model]], _SelectPlan] = {}


def _db() -> Any:
    # Each attribute read through django.db.connection resolves the
    # thread/async-local connection again; the hot paths below made ~60 such
    # reads per transition, so each function resolves it once.
    return connections[DEFAULT_DB_ALIAS]


def vendor() -> str:
    """The database's vendor ("postgresql", "sqlite"), for the few statements
    written apart for each."""
    return str(_db().vendor)


def _cursor(connection: Any) -> Any:
    """A cursor for the statements here. On PostgreSQL the values travel apart
    from the statement (server-side binding) instead of being quoted into its
    text by Python, which cost a tenth of a transition's CPU. Django's own
    queries keep its default client-side binding."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None and settings.ORCHESTRATION_PREPARED_STATEMENTS:
        # Django leaves preparing off; the engine's statements ask for it one
        # by one (prepare=True), so nothing is prepared behind their back.
        raw.prepare_threshold = 1_000_000
    return _Wrapped(psycopg.Cursor(raw), connection)


class _Wrapped:
    """Django's error translation (IntegrityError and friends) around a psycopg cursor."""

    def __init__(self, cursor: Any, connection: Any) -> None:
        self.cursor, self.connection = cursor, connection

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool = True) -> None:
        """`prepare`: keep the statement prepared on this connection (its text is
        one of a few; a multi-row INSERT's text varies with its rows: no)."""
        self._run(sql, params, many=False, prepare=prepare)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._run(sql, params, many=True)

    def _run(self, sql: str, params: Any, *, many: bool, prepare: bool = False) -> None:
        """As Django's cursor does: through connection.execute_wrappers (tracing,
        query counting), recorded in connection.queries when queries are logged
        (DEBUG, or a test's django_assert_num_queries)."""

        def run(sql: str, params: Any, many: bool, context: dict[str, Any]) -> None:
            with self.connection.wrap_database_errors:
                if many:
                    self.cursor.executemany(sql, params)
                else:
                    # Prepared once per connection (when _cursor() allowed it):
                    # PostgreSQL parses and plans the engine's statements once.
                    self.cursor.execute(sql, params, prepare=True if prepare else None)

        executor: Any = run
        for wrapper in reversed(self.connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        if not self.connection.queries_logged:
            executor(sql, params, many, {"connection": self.connection, "cursor": self})
            return
        started = time.monotonic()
        try:
            executor(sql, params, many, {"connection": self.connection, "cursor": self})
        finally:
            times = f"{len(params)} times: " if many else ""
            self.connection.queries_log.append(
                {"sql": f"{times}{sql}", "time": f"{time.monotonic() - started:.3f}"}
            )

    def fetchall(self) -> list[Any]:
        with self.connection.wrap_database_errors:
            rows: list[Any] = self.cursor.fetchall()
            return rows

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)

    def close(self) -> None:
        self.cursor.close()

    def __enter__(self) -> _Wrapped:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()


@contextmanager
def pipeline() -> Iterator[None]:
    """Send the statements of the block without waiting for each result
    (psycopg's pipeline mode on PostgreSQL): a transition's writes cost one
    network round trip, and the database and this process stop taking turns on
    the CPU for every statement. Errors surface at the end of the block, as
    Django's exceptions. Reading a result (RETURNING) inside waits for it."""
    connection = _db()
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def in_(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column IN (values)` as SQL and parameters; one array parameter on
    PostgreSQL, so the statement text does not depend on how many values
    there are."""
    connection = _db()
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def table(model: type[Model]) -> str:
    connection = _db()
    quoted: str = connection.ops.quote_name(model._meta.db_table)
    return quoted


def _select_plan(model: type[Model]) -> _SelectPlan:
    connection = _db()
    key = (connection.vendor, model)
    plan = _selects.get(key)
    if plan is None:
        meta = model._meta
        fields = list(meta.concrete_fields)
        quote = connection.ops.quote_name
        name = table(model)
        columns = ", ".join(f"{name}.{quote(f.column)}" for f in fields)
        converters = []
        for index, f in enumerate(fields):
            column = f.get_col(meta.db_table)
            found = connection.ops.get_db_converters(column) + f.get_db_converters(connection)
            if found:
                converters.append((index, found, column))
        plan = _selects[key] = (columns, converters, fields)
    return plan


class Query:
    """One SELECT of whole model rows: `SELECT <all columns> FROM <table> <where>`.

    `lock` adds FOR UPDATE OF the model's table (SKIP LOCKED with skip_locked)
    where the database has row locks; SQLite serialises writers instead.
    `related` names a foreign key whose row is joined in and set on each object
    (as select_related does).
    """

    def __init__(
        self, model: type[Model], where: str = "", params: Sequence[Any] = (), *,
        lock: bool = False, skip_locked: bool = False, related: str = "",
    ) -> None:  # fmt: skip
        connection = _db()
        self.model, self.params, self.related = model, params, related
        columns, self.converters, fields = _select_plan(model)
        self.attnames = [f.attname for f in fields]
        source = table(model)
        if related:
            fk: Any = model._meta.get_field(related)
            self.other: type[Model] = fk.related_model
            other_columns, other_converters, other_fields = _select_plan(self.other)
            self.other_attnames = [f.attname for f in other_fields]
            self.other_converters = [(i + len(fields), c, col) for i, c, col in other_converters]
            columns = f"{columns}, {other_columns}"
            source += f" JOIN {table(self.other)} ON {table(self.other)}.id = {source}.{fk.column}"
        self.sql = f"SELECT {columns} FROM {source} {where}"  # noqa: S608
        if lock and connection.features.has_select_for_update:
            self.sql += f" FOR UPDATE OF {table(model)}" + (" SKIP LOCKED" if skip_locked else "")

    def objects(self, rows: list[Any]) -> list[Any]:
        connection = _db()
        alias = connection.alias
        converters = self.converters + (self.other_converters if self.related else [])
        width = len(self.attnames)
        out = []
        for row in rows:
            if converters:
                row = list(row)
                for index, functions, column in converters:
                    value = row[index]
                    for function in functions:
                        value = function(value, column, connection)
                    row[index] = value
            obj = self.model.from_db(alias, self.attnames, row[:width])
            if self.related:
                setattr(
                    obj, self.related, self.other.from_db(alias, self.other_attnames, row[width:])
                )
            out.append(obj)
        return out


def select(
    model: type[Model], where: str = "", params: Sequence[Any] = (), **options: Any
) -> list[Any]:
    """Model instances for one Query (see there for the options)."""
    return select_all(Query(model, where, params, **options))[0]


def select_all(*queries: Query) -> list[list[Any]]:
    """Run queries in order, in one round trip on PostgreSQL (a pipeline).

    The server still runs them one after the other, each with a fresh snapshot
    under READ COMMITTED: a read placed after a locking read sees what was
    committed while the lock was awaited."""
    connection = _db()
    with pipeline():
        cursors = []
        for query in queries:
            cursor = _cursor(connection)
            cursor.execute(query.sql, query.params)
            cursors.append(cursor)
        try:
            return [q.objects(c.fetchall()) for q, c in zip(queries, cursors, strict=True)]
        finally:
            for cursor in cursors:
                cursor.close()


def rows_of(query: Query, text: str, params: Sequence[Any]) -> list[Any]:
    """Model instances, as `query` builds them, from a statement made of it (a
    UNION of queries of the same model, say)."""
    return query.objects(fetch(text, params))


def prefetched(obj: Model, name: str, rows: list[Any]) -> None:
    """Fill a reverse relation's prefetch cache (`obj.<name>.all()` then reads no
    rows), as prefetch_related would."""
    related = obj._meta.get_field(name).related_model
    queryset: QuerySet[Any] = QuerySet(related)
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    obj.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


@dataclass(frozen=True)
class _Write:
    """A write statement's text and the columns whose values it takes, with each
    column's plain type: the Python type whose values Django's get_db_prep_save
    hands to the driver unchanged (None: always ask Django). That call chain
    cost more per field and row than anything else in an INSERT here; most
    engine columns are strings, integers and ids already in their final form."""

    sql: str
    fields: tuple[Any, ...]
    kinds: tuple[type | None, ...]

    def values(self, obj: Model, connection: Any) -> list[Any]:
        out = []
        for f, kind in zip(self.fields, self.kinds, strict=True):
            value = getattr(obj, f.attname)
            if kind is not None and (
                value is None
                or (type(value) is kind and (kind is not datetime or value.tzinfo is not None))  # type: ignore[attr-defined]
            ):
                out.append(value)
            else:
                out.append(f.get_db_prep_save(value, connection))
        return out


def _kind(field: Any, vendor: str) -> type | None:
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.CharField | models.TextField):
        return str
    if isinstance(field, models.IntegerField | models.ForeignKey):
        return int
    if isinstance(field, models.DateTimeField) and vendor == "postgresql":
        return datetime
    return None


_writes: dict[tuple[str, type[Model], tuple[str, ...]], _Write] = {}


def _write(model: type[Model], fields: tuple[str, ...], connection: Any) -> _Write:
    """INSERT (fields=()) or UPDATE-by-id (the named fields) plan, built once."""
    key = (connection.vendor, model, fields)
    plan = _writes.get(key)
    if plan is None:
        meta = model._meta
        quote = connection.ops.quote_name
        if fields:
            columns: tuple[Any, ...] = tuple(meta.get_field(name) for name in fields)
            assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
            sql = f"UPDATE {table(model)} SET {assignments} WHERE id = %s"  # noqa: S608
        else:
            # Engine models set every default in Python (no auto_now fields), so
            # an attribute read is what pre_save would return.
            columns = tuple(f for f in meta.concrete_fields if not f.primary_key)
            names = ", ".join(quote(f.column) for f in columns)
            sql = f"INSERT INTO {table(model)} ({names}) VALUES "  # noqa: S608
        kinds = tuple(_kind(f, connection.vendor) for f in columns)
        plan = _writes[key] = _Write(sql, columns, kinds)
    return plan


def insert(model: type[Model], objs: Sequence[Model], *, returning: bool = True) -> None:
    """INSERT objects and set their primary keys (as bulk_create does), without
    the ORM's per-call compilation. On PostgreSQL one statement whatever the
    number of rows (several rows travel as one array per column); with
    returning=False (audit rows, whose ids nobody reads) no ids come back."""
    if not objs:
        return
    connection = _db()
    plan = _write(model, (), connection)
    row = "(" + ", ".join(["%s"] * len(plan.fields)) + ")"
    ids: list[Any] = []
    with _cursor(connection) as cursor:
        if connection.vendor == "postgresql":
            # One row (most inserts): plain VALUES, cheaper to send than
            # arrays. Several rows travel as one array per column (unnest): a
            # VALUES list of %s per row made psycopg parse a new statement text
            # for every batch, which cost a quarter of a worker's CPU for 64
            # tasks of 20 assignee rows each (profiled); this text is always
            # the same, so it is prepared once.
            if len(objs) == 1:
                text, params = plan.sql + row, plan.values(objs[0], connection)
            else:
                text = _unnest_insert(model, plan.fields, connection, ordered=returning)
                params = _columns(plan.fields, (plan.values(obj, connection) for obj in objs))
            if returning:
                cursor.execute(f"{text} RETURNING id", params)
                ids = [r[0] for r in cursor.fetchall()]
            else:
                cursor.execute(text, params)
        elif not returning:
            cursor.executemany(plan.sql + row, [plan.values(obj, connection) for obj in objs])
        else:
            # SQLite leaves the order of RETURNING rows undefined: one row each.
            for obj in objs:
                cursor.execute(plan.sql + row, plan.values(obj, connection))
                ids.append(cursor.lastrowid)
    if returning:
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias


_TYPMOD = re.compile(r"\(.*\)")


def _array_of(field: Any, connection: Any) -> str:
    """A column's values as one array parameter, typed without the column's
    length: an explicit cast to varchar(100) would cut a longer text short,
    where the INSERT's assignment refuses it (a step id stored before ids were
    capped must fail its instance, not be truncated)."""
    if isinstance(field, IdListField):
        return "%b::text[]"  # each row's list as its text form (_list_column)
    plain = _TYPMOD.sub("", field.db_type(connection))
    # %b: sent in binary, so psycopg does not escape each text element of the
    # array with a regular expression (the largest cost of a batch's arrays).
    return f"%b::{plain}[]"


def _element(field: Any, name: str) -> str:
    """An unnested column as the value to store: lists of ids arrive as text."""
    return f"{name}::bigint[]" if isinstance(field, IdListField) else name


def _columns(fields: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows of values as one list per column, for unnest. Arrays of arrays
    must be rectangular in PostgreSQL: a column of id lists travels as their
    text forms ('{1,2}'), cast back per row (_element)."""
    columns = [list(c) for c in zip(*rows, strict=True)]
    for index, f in enumerate(fields):
        if isinstance(f, IdListField):
            columns[index] = [v if v is None else array_literal(v) for v in columns[index]]
    return columns


_unnests: dict[tuple[type[Model], tuple[Any, ...], bool], str] = {}


def _unnest_insert(
    model: type[Model], fields: tuple[Any, ...], connection: Any, *, ordered: bool
) -> str:
    """INSERT INTO <table> (<columns>) SELECT from one array per column, built
    once per model and columns. `ordered`: in the arrays' order (WITH
    ORDINALITY), so that RETURNING gives the ids in the order of the objects."""
    key = (model, fields, ordered)
    text = _unnests.get(key)
    if text is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        arrays = ", ".join(_array_of(f, connection) for f in fields)
        names = [f"c{n}" for n in range(len(fields))]
        values = ", ".join(_element(f, n) for f, n in zip(fields, names, strict=True))
        if ordered:
            rows = (
                f"SELECT {values} FROM unnest({arrays})"  # noqa: S608
                f" WITH ORDINALITY AS rows({', '.join(names)}, n) ORDER BY n"
            )
        else:
            rows = f"SELECT {values} FROM unnest({arrays}) AS rows({', '.join(names)})"  # noqa: S608
        text = _unnests[key] = f"INSERT INTO {table(model)} ({columns}) {rows}"
    return text


def update(model: type[Model], objs: Iterable[Model], fields: list[str]) -> None:
    """UPDATE each object's `fields` by primary key.

    Django's bulk_update builds one CASE expression per field and row; at engine
    batch sizes that Python work cost more than the database. One row is one
    plain statement. Several are one statement on PostgreSQL (the rows' values
    as one array per column, joined by id): a pipelined executemany sent a
    statement per row, and a worker's batch of 64 paid psycopg's per-statement
    work 64 times for each kind of update (profiled). SQLite: executemany.
    """
    # One row per object (the last values of an object listed twice).
    objs = list({obj.pk: obj for obj in objs}.values())
    if not objs:
        return
    connection = _db()
    plan = _write(model, tuple(fields), connection)
    params = [[*plan.values(obj, connection), obj.pk] for obj in objs]
    with _cursor(connection) as cursor:
        if len(params) == 1:
            cursor.execute(plan.sql, params[0])
        elif connection.vendor == "postgresql":
            columns = _columns([*plan.fields, model._meta.pk], params)
            cursor.execute(_unnest_update(model, plan, connection), columns)
        else:
            cursor.executemany(plan.sql, params)


_unnest_updates: dict[tuple[type[Model], tuple[Any, ...]], str] = {}


def _unnest_update(model: type[Model], plan: _Write, connection: Any) -> str:
    """UPDATE <table> SET <column> = v.<column>, ... FROM unnest(<one array per
    column>, <ids>) AS v WHERE <table>.id = v.id."""
    key = (model, plan.fields)
    text = _unnest_updates.get(key)
    if text is None:
        quote = connection.ops.quote_name
        names = [f"c{n}" for n in range(len(plan.fields))]
        pairs = zip(plan.fields, names, strict=True)
        sets = ", ".join(f"{quote(f.column)} = {_element(f, 'v.' + n)}" for f, n in pairs)
        arrays = ", ".join(_array_of(f, connection) for f in plan.fields)
        pk = model._meta.pk
        text = _unnest_updates[key] = (
            f"UPDATE {table(model)} SET {sets} FROM unnest({arrays}, {_array_of(pk, connection)})"  # noqa: S608
            f" AS v({', '.join(names)}, id) WHERE {table(model)}.id = v.id"
        )
    return text


def update_where(
    model: type[Model], values: dict[str, Any], where: str, params: Sequence[Any]
) -> int:
    """UPDATE <table> SET <column> = <value>, ... WHERE <where>; returns the row count.

    `values` are keyed by field name and converted through the fields, as the
    ORM's update() would (an aware datetime is stored the same way on every
    database, whoever wrote it)."""
    connection = _db()
    fields = [model._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
    converted = [
        f.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        for f, value in zip(fields, values.values(), strict=True)
    ]
    return execute(
        f"UPDATE {table(model)} SET {assignments} WHERE {where}",  # noqa: S608
        [*converted, *params],
    )


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement; return the number of rows it changed."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        count: int = cursor.rowcount
        return count


def fetch(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
