"""Re-encrypting every sensitive value with the newest key.

Rotating a key: put the new key first in ORCHESTRATION_ENCRYPTION_KEYS (the
old ones stay after it: they still decrypt), restart, run
`rotate_encryption_keys`, and drop an old key only once the command reports
nothing left under it. Audit payloads never hold envelopes (they are
written masked), so the sealed chain is not touched.

Instances go in small batches, each instance's rows in the same transaction
as the instance row's lock (taken in ascending id order, as the engine takes
them), so a transition running meanwhile never loses its write to this one
or this one's to it. An envelope no key opens fails its instance alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Cast

from orchestration import clock, sensitive
from orchestration.audit import AuditKind
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, TaskVote, Timer

# Every JSON column an envelope can be in: (model, its columns, the path to its instance id).
WHERE: list[tuple[type[models.Model], tuple[str, ...], str]] = [
    (ProcessInstance, ("variables", "state", "error"), "pk"),
    (HumanTask, ("data",), "instance_id"),
    (TaskVote, ("data",), "task__instance_id"),
    (Timer, ("payload",), "instance_id"),
]


@dataclass
class Rotation:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows re-encrypted
    values: int = 0
    unreadable: list[int] = field(default_factory=list)  # instances an envelope of failed
    instances: int = 0

    def add(self, table: str) -> None:
        self.rows[table] = self.rows.get(table, 0) + 1


def _holding(model: type[models.Model], columns: Iterable[str]) -> models.QuerySet[Any]:
    """Rows whose JSON holds an envelope (a scan of the text: rotation is rare)."""
    query = models.Q()
    for column in columns:
        query |= models.Q(**{f"_{column}_text__contains": sensitive.FIELD})
    rows: models.QuerySet[Any] = model._default_manager.annotate(
        **{f"_{c}_text": Cast(c, models.TextField()) for c in columns}
    )
    return rows.filter(query)


def instances_holding() -> list[int]:
    ids: set[int] = set()
    for model, columns, path in WHERE:
        ids.update(_holding(model, columns).values_list(path, flat=True))
    return sorted(ids)


def rotate(*, batch: int = 100) -> Rotation:
    report = Rotation()
    ids = instances_holding()
    for start in range(0, len(ids), batch):
        for instance_id in ids[start : start + batch]:
            try:
                with transaction.atomic():
                    _rotate_instance(instance_id, report)
                report.instances += 1
            except sensitive.Unreadable:
                report.unreadable.append(instance_id)
    ProcessEvent.objects.create(
        kind=AuditKind.SENSITIVE_ROTATED, created_at=clock.now(),
        payload={"instances": report.instances, "rows": report.rows, "values": report.values,
                 "unreadable": report.unreadable[:100]},
    )  # fmt: skip
    return report


def _rotate_instance(instance_id: int, report: Rotation) -> None:
    # The instance row first: the engine's lock order (then its other rows).
    if not ProcessInstance.objects.select_for_update().filter(pk=instance_id).exists():
        return
    for model, columns, path in WHERE:
        rows = (
            model._default_manager.select_for_update().filter(**{path: instance_id}).order_by("pk")
        )
        for row in rows:
            changed = []
            for column in columns:
                value = getattr(row, column)
                if not sensitive.holds_sealed(value):
                    continue
                try:
                    again, count = sensitive.rotated(value)
                except InvalidToken as exc:
                    raise sensitive.Unreadable(f"{model.__name__} {row.pk}.{column}") from exc
                setattr(row, column, again)
                report.values += count
                changed.append(column)
            if changed:
                row.save(update_fields=changed)
                report.add(model._meta.db_table)


def left_under_older_keys() -> int:
    """Envelopes the newest key alone does not open (0: older keys can go)."""
    keys = sensitive.keys_of(str(settings.ORCHESTRATION_ENCRYPTION_KEYS))
    if not keys:
        return 0
    newest = Fernet(keys[0].encode())
    left = 0
    for model, columns, _path in WHERE:
        for row in _holding(model, columns).iterator(chunk_size=500):
            for column in columns:
                for token in _tokens(getattr(row, column)):
                    try:
                        newest.decrypt(token.encode())
                    except InvalidToken:
                        left += 1
    return left


def _tokens(value: Any) -> Iterable[str]:
    if sensitive.is_sealed(value):
        yield value[sensitive.FIELD]
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tokens(v)
    elif isinstance(value, list):
        for v in value:
            yield from _tokens(v)
