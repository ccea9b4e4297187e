"""Messages addressed by business key rather than instance id: delivered to
the one instance waiting for them, to all with `all`, or kept for a while
for an instance that will wait for them later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts import permissions
from accounts.models import User
from orchestration import clock, limits
from orchestration.audit import AuditKind
from orchestration.engine.state import awaited
from orchestration.exceptions import InstanceConflict, InvalidInput, NoMatch
from orchestration.models import BufferedMessage, ProcessEvent, ProcessInstance
from orchestration.services.instances import instance_send_message
from orchestration.states import ENDED

# How long a message may wait for its instance at most (POST /api/v1/messages ttl).
MAX_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Correlated:
    delivered: list[int]
    buffered: BufferedMessage | None = None


def _waiting_for(instance: ProcessInstance, name: str) -> bool:
    tokens = (instance.state or {}).get("tokens") or {}
    return any(name in awaited(t) for t in tokens.values())


def message_correlate(
    *,
    name: str,
    business_key: str,
    payload: dict[str, Any] | None,
    actor: User | None,
    ttl: timedelta | None = None,
    deliver_to_all: bool = False,
    within: Q | None = None,
    now: datetime | None = None,
) -> Correlated:
    """Deliver `name` to the instance with `business_key` that waits for it.

    Several waiting: InstanceConflict("ambiguous") unless `deliver_to_all`.
    None waiting: kept for `ttl` when given (BufferedMessage), else NoMatch.
    `within` narrows the instances considered (an API key's definitions)."""
    permissions.require(actor, permissions.operate_refusal(actor))
    payload = {} if payload is None else payload
    errors: dict[str, list[str]] = {}
    if not isinstance(payload, dict):
        errors["payload"] = [gettext("must be a JSON object")]
    elif (problem := limits.json_problem(payload)) is not None:
        errors["payload"] = [problem]
    if not business_key:
        errors["business_key"] = [gettext("required")]
    if ttl is not None and not (timedelta(0) < ttl <= MAX_TTL):
        errors["ttl"] = [gettext("between 1 second and %(days)s days") % {"days": MAX_TTL.days}]
    if errors:
        raise InvalidInput(errors)

    def waiting() -> list[ProcessInstance]:
        rows = ProcessInstance.objects.filter(
            permissions.instances_visible_q(actor) if actor is not None else Q(),
            within or Q(),
            business_key=business_key,
        ).exclude(status__in=ENDED)
        return [i for i in rows.order_by("pk") if _waiting_for(i, name)]

    candidates = waiting()
    if len(candidates) > 1 and not deliver_to_all:
        raise InstanceConflict(
            "ambiguous",
            f"{len(candidates)} instances with business key {business_key!r} wait for "
            f"{name!r}; send with all: true to deliver to every one",
        )
    if candidates:
        return Correlated(
            [
                instance_send_message(
                    instance_id=i.pk, name=name, payload=payload, actor=actor, now=now
                ).pk
                for i in candidates
            ]
        )
    if ttl is None:
        raise NoMatch(f"no instance with business key {business_key!r} waits for {name!r}")
    now = now or clock.now()
    with transaction.atomic():
        kept = BufferedMessage.objects.create(
            name=name,
            business_key=business_key,
            payload=payload,
            created_at=now,
            expires_at=now + ttl,
        )
        ProcessEvent.objects.create(
            kind=AuditKind.MESSAGE_BUFFERED,
            actor=actor,
            created_at=now,
            payload={
                "name": name,
                "business_key": business_key,
                "message": kept.pk,
                "expires_at": kept.expires_at.isoformat(),
            },
        )
    # An instance that began waiting while this was being kept looked for it
    # before it was committed: look for such an instance once more. Whoever
    # marks the message consumed first delivers it.
    late = waiting()
    if late and BufferedMessage.objects.filter(pk=kept.pk, consumed_at__isnull=True).update(
        consumed_at=now, consumed_by=late[0]
    ):
        instance_send_message(
            instance_id=late[0].pk, name=name, payload=payload, actor=actor, now=now
        )
        return Correlated([late[0].pk])
    return Correlated([], kept)


def prune_expired(*, limit: int = 5000) -> int:
    """Forget up to `limit` kept messages that expired (untaken) or were taken
    more than a day ago."""
    cutoff = clock.now() - timedelta(days=1)
    old = BufferedMessage.objects.filter(
        Q(expires_at__lt=cutoff) | Q(consumed_at__lt=cutoff)
    ).values_list("pk", flat=True)
    return BufferedMessage.objects.filter(pk__in=list(old[:limit])).delete()[0]
