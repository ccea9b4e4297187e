"""Writes for accounts: role groups and their permissions, out-of-office windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import permissions
from accounts.models import Absence, User
from accounts.roles import CAPABILITIES, Role
from accounts.timezones import is_zone
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


def preferences_update(*, actor: User, language: str, timezone: str) -> User:
    """A person sets their own page language ('' = the browser's) and time zone.
    InvalidInput names the field; the change is in the audit log."""
    from django.conf import settings

    from orchestration.audit import AuditKind
    from orchestration.exceptions import InvalidInput
    from orchestration.models import ProcessEvent

    errors: dict[str, list[str]] = {}
    if language not in {"", *(code for code, _ in settings.LANGUAGES)}:
        errors["language"] = [f"must be one of {', '.join(c for c, _ in settings.LANGUAGES)}"]
    if not is_zone(timezone):
        errors["timezone"] = [f"{timezone[:64]!r} is not a time zone (e.g. Europe/Berlin)"]
    if errors:
        raise InvalidInput(errors)
    before = {"language": actor.language, "timezone": actor.timezone}
    with transaction.atomic():
        actor.language, actor.timezone = language, timezone
        actor.save(update_fields=["language", "timezone"])
        ProcessEvent.objects.create(
            kind=AuditKind.PREFERENCES_CHANGED, actor=actor, created_at=clock.now(),
            payload={"before": before, "after": {"language": language, "timezone": timezone}},
        )  # fmt: skip
    return actor
