"""Legal holds: placing and lifting them (audited), and which instances they
keep from the purge and from erasure."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from accounts import permissions
from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.exceptions import InvalidInput
from orchestration.models import (
    HoldScope,
    LegalHold,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
)
from orchestration.retention.subjects import keys_for, subject_key

REASON_MAX = 2000


def active() -> Any:
    return LegalHold.objects.filter(lifted_at__isnull=True)


def held_q() -> Q:
    """Instances some active hold covers, as a filter on ProcessInstance."""
    holds = active()
    return (
        Q(Exists(holds.filter(scope=HoldScope.INSTANCE, instance=OuterRef("pk"))))
        | Q(Exists(holds.filter(scope=HoldScope.DEFINITION, definition=OuterRef("definition"))))
        | Q(Exists(holds.filter(scope=HoldScope.SUBJECT, subject_key=OuterRef("subject_key"))))
    )


def is_held(instance: ProcessInstance) -> bool:
    return ProcessInstance.objects.filter(pk=instance.pk).filter(held_q()).exists()


def holds_on(instance: ProcessInstance) -> list[LegalHold]:
    """The active holds that cover one instance (for its page)."""
    covering = Q(scope=HoldScope.INSTANCE, instance=instance) | Q(
        scope=HoldScope.DEFINITION, definition_id=instance.definition_id
    )
    if instance.subject_key:
        covering |= Q(scope=HoldScope.SUBJECT, subject_key=instance.subject_key)
    return list(active().filter(covering).select_related("placed_by"))


def place(
    *, actor: Any, reason: str, instance: ProcessInstance | None = None,
    definition: ProcessDefinition | None = None, subject: str | None = None,
) -> LegalHold:  # fmt: skip
    """Put one instance, a definition's instances or a subject's on hold.
    Raises PermissionDenied, or InvalidInput naming the field; audited."""
    permissions.require(actor, permissions.hold_refusal(actor))
    targets = [t for t in (instance, definition, subject) if t not in (None, "")]
    errors: dict[str, list[str]] = {}
    if len(targets) != 1:
        errors["target"] = ["name exactly one of instance, definition or subject"]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["say why: a hold without a reason cannot be reviewed"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"at most {REASON_MAX} characters"]
    if errors:
        raise InvalidInput(errors)
    now = clock.now()
    with transaction.atomic():
        if instance is not None:
            hold = LegalHold(scope=HoldScope.INSTANCE, instance=instance)
        elif definition is not None:
            hold = LegalHold(scope=HoldScope.DEFINITION, definition=definition)
        else:
            hold = LegalHold(scope=HoldScope.SUBJECT, subject_key=subject_key(subject))
        hold.reason, hold.placed_by, hold.placed_at = reason, _user(actor), now
        hold.save()
        _audit(AuditKind.HOLD_PLACED, hold, actor, reason, now)
    return hold


def lift(*, actor: Any, hold: LegalHold, reason: str) -> LegalHold:
    """Lift a hold (it stays, as the record). Raises PermissionDenied, or
    InvalidInput naming the field; audited."""
    permissions.require(actor, permissions.hold_refusal(actor))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": ["say why the hold ends"]})
    if len(reason) > REASON_MAX:
        raise InvalidInput({"reason": [f"at most {REASON_MAX} characters"]})
    now = clock.now()
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if locked.lifted_at is not None:
            raise InvalidInput({"hold": ["this hold was lifted already"]})
        locked.lifted_at, locked.lifted_by, locked.lift_reason = now, _user(actor), reason
        locked.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        _audit(AuditKind.HOLD_LIFTED, locked, actor, reason, now)
    return locked


def subject_holds(value: str) -> list[LegalHold]:
    return list(active().filter(scope=HoldScope.SUBJECT, subject_key__in=keys_for(value)))


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "pk", None) else None


def _audit(kind: AuditKind, hold: LegalHold, actor: Any, reason: str, now: Any) -> None:
    instance = hold.instance
    ProcessEvent.objects.create(
        kind=kind, actor=_user(actor), reason=reason, created_at=now,
        instance=instance,
        definition_id=hold.definition_id or (instance.definition_id if instance else None),
        payload={"hold": hold.pk, "scope": hold.scope},
    )  # fmt: skip
