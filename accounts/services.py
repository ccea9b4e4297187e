"""Writes for accounts: role groups and their permissions, out-of-office windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import permissions
from accounts.models import Absence
from accounts.roles import CAPABILITIES, Role
from orchestration import clock


@transaction.atomic
def roles_sync() -> list[Group]:
    """Create one group per Role and set exactly its capability permissions.

    Idempotent; run by `manage.py setup_roles` and the demo. Raises
    Permission.DoesNotExist if a capability names a permission that migrations
    have not created (a programming error caught by the test suite).
    """
    groups = []
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = []
        for dotted in sorted(CAPABILITIES[role]):
            app_label, codename = dotted.split(".", 1)
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
        groups.append(group)
    return groups


def absence_record(
    *, actor: Any, user: Any, starts_at: datetime, ends_at: datetime,
    delegate: Any | None, note: str = "",
) -> Absence:  # fmt: skip
    """Record an out-of-office window (and who decides meanwhile). Raises
    PermissionDenied, or InvalidInput naming the field; audited."""
    from orchestration.audit import AuditKind
    from orchestration.exceptions import InvalidInput
    from orchestration.models import ProcessEvent

    permissions.require(actor, permissions.absence_refusal(actor, user))
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = ["must be after the start"]
    if delegate is not None and delegate.pk == user.pk:
        errors["delegate"] = ["must be someone else"]
    if len(note) > 200:
        errors["note"] = ["at most 200 characters"]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        absence = Absence.objects.create(
            user=user, starts_at=starts_at, ends_at=ends_at, delegate=delegate, note=note
        )
        ProcessEvent.objects.create(
            kind=AuditKind.ABSENCE_RECORDED, actor=actor, created_at=clock.now(),
            payload={"absence": absence.pk, "user": user.get_username(),
                     "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                     "delegate": delegate.get_username() if delegate else None},
        )  # fmt: skip
    return absence


def absence_delete(*, actor: Any, absence: Absence) -> None:
    from orchestration.audit import AuditKind
    from orchestration.models import ProcessEvent

    permissions.require(actor, permissions.absence_refusal(actor, absence.user))
    with transaction.atomic():
        ProcessEvent.objects.create(
            kind=AuditKind.ABSENCE_DELETED,
            actor=actor,
            created_at=clock.now(),
            payload={"absence": absence.pk, "user": absence.user.get_username()},
        )
        absence.delete()
