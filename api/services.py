"""Making and revoking API keys: audited, through the policy module."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext

from accounts import permissions
from accounts.models import User
from api import keys
from api.models import SCOPES, ApiKey
from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import ProcessEvent


def api_key_create(
    *,
    actor: User | None,
    name: str,
    user: User,
    scopes: Iterable[str],
    definitions: Iterable[str] = (),
) -> tuple[ApiKey, str]:
    """A new key and its token (shown to the caller once, never stored)."""
    permissions.require(actor, permissions.api_key_refusal(actor))
    scopes, definitions = sorted(set(scopes)), sorted(set(definitions))
    errors: dict[str, list[str]] = {}
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        errors["scopes"] = [gettext("unknown scope %(name)s") % {"name": repr(s)} for s in unknown]
    if not name.strip() or len(name) > 100:
        errors["name"] = [gettext("1 to 100 characters")]
    elif ApiKey.objects.filter(name=name).exists():
        errors["name"] = ["a key with this name exists"]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        key, token = keys.issue(name=name, user=user, scopes=scopes, definitions=definitions)
        ProcessEvent.objects.create(
            kind=AuditKind.API_KEY_CREATED,
            actor=actor,
            payload={
                "key": name,
                "prefix": key.prefix,
                "acts_as": user.get_username(),
                "scopes": scopes,
                "definitions": definitions,
            },
        )
    return key, token


def api_key_revoke(*, actor: User | None, key_id: int) -> ApiKey:
    """Revoke a key: every later call with it is refused (401)."""
    permissions.require(actor, permissions.api_key_refusal(actor))
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id)
        if key.revoked_at is not None:
            raise InstanceConflict("already_revoked", f"the key {key.name!r} is already revoked")
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        keys.forget(key.prefix)
        ProcessEvent.objects.create(
            kind=AuditKind.API_KEY_REVOKED,
            actor=actor,
            payload={"key": key.name, "prefix": key.prefix},
        )
    return key
