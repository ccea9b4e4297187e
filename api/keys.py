"""Making API keys and recognising them in `Authorization: Bearer`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from typing import Any

from django.db.models import Q
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiKey
from orchestration import clock, log_context
from orchestration.audit import context as audit_context

# pe_<prefix>_<secret>: the prefix finds the row (and is safe to show), the
# secret proves the caller holds the key.
_PREFIX_BYTES, _SECRET_BYTES = 6, 32
# last_used_at is written at most this often per key (not on every call).
_TOUCH_EVERY = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(**fields: Any) -> tuple[ApiKey, str]:
    """A new key saved with `fields`, and its token: the only time the secret
    exists outside the caller's hands."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    key = ApiKey.objects.create(prefix=prefix, secret_hash=_digest(secret), **fields)
    return key, f"pe_{prefix}_{secret}"


def prefix_of(token: str) -> str | None:
    """The public part of a well-formed token, else None."""
    kind, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if kind != "pe" or len(prefix) != 2 * _PREFIX_BYTES or not secret:
        return None
    return prefix


def bearer(request: Any) -> str | None:
    """The token of an `Authorization: Bearer` header, else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Keys read from the database are reused by this process for this long: the
# lookup was a fifth of a start's cost. A revocation (or a deactivated account)
# therefore takes effect within this many seconds in other processes (at once
# in the one that revoked). docs/api.md says so.
CACHE_SECONDS = 5.0
_recent: dict[str, tuple[float, ApiKey | None]] = {}


def forget(prefix: str) -> None:
    _recent.pop(prefix, None)


def find(token: str) -> ApiKey | None:
    """The active key this token proves, else None (in constant time in the secret)."""
    prefix = prefix_of(token)
    if prefix is None:
        return None
    cached = _recent.get(prefix)
    if cached is not None and cached[0] > time.monotonic():
        key = cached[1]
    else:
        key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if len(_recent) > 10_000:  # a flood of made-up prefixes must not grow it
            _recent.clear()
        _recent[prefix] = (time.monotonic() + CACHE_SECONDS, key)
    secret = token.split("_", 2)[2]
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(secret)):
        return None
    if not key.active or not key.user.is_active:
        return None
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer pe_...`: the request acts as the key's account,
    `request.auth` is the key, and the audit log names the key."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        token = bearer(request)
        if token is None:
            return None
        key = find(token)
        if key is None:
            raise exceptions.AuthenticationFailed("the API key is not valid, or was revoked")
        now = clock.now()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            ApiKey.objects.filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _TOUCH_EVERY), pk=key.pk
            ).update(last_used_at=now)
            key.last_used_at = now  # the cached copy too
        audit_context.set_client(f"api:{key.name}")
        log_context.note(user=key.user.get_username())
        request._request.api_key = key  # type: ignore[attr-defined]  # api/access_log.py
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
