"""A column of ids (users', groups') held in the row that names them.

A task offered to twenty groups used to write twenty rows (each with its own
index entries and foreign-key checks) and rewrite them when it closed; as one
column the offer is part of the task's own INSERT, and leaves the open-task
indexes with the task's status. On PostgreSQL the column is `bigint[]`
(GIN-indexed: `&&` finds the tasks offered to any of a person's groups), on
SQLite a JSON list (json_each).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Lookup


def ids_of(value: Iterable[Any]) -> list[int]:
    """Distinct ids in their first order; ValidationError naming a value that
    is not one."""
    out: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValidationError(f"{item!r} is not an id")
        if item not in out:
            out.append(item)
    return out


class IdListField(models.Field):  # type: ignore[type-arg]
    description = "A list of ids"

    def db_type(self, connection: Any) -> str:
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int] | None:
        if value is None:
            return None
        return json.loads(value) if isinstance(value, str) else list(value)

    def to_python(self, value: Any) -> list[int] | None:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError(f"{value[:40]!r} is not a list of ids") from None
        return ids_of(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        ids = ids_of(value)
        return ids if connection.vendor == "postgresql" else json.dumps(ids)

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))


def array_literal(ids: Iterable[int]) -> str:
    """PostgreSQL's text form of a bigint[] ('{1,2}'): how a column of such
    lists travels inside one array parameter (arrays of arrays must be
    rectangular; these are not)."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


@IdListField.register_lookup
class Overlaps(Lookup):
    """`candidate_groups__overlaps=[3, 7]`: the list holds any of these ids."""

    lookup_name = "overlaps"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = ids_of(self.rhs)
        if not ids:
            return "1 = 0", []
        marks = ", ".join(["%s"] * len(ids))
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value IN ({marks}))",  # noqa: S608 - lhs is a column; ids are parameters
            [*lhs_params, *ids],
        )

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} && %s::bigint[]", [*lhs_params, array_literal(ids_of(self.rhs))]
