"""What every endpoint shares: the scope check, cursor pages, ETags, throttling."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import pagination, serializers, throttling
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions
from accounts.models import User


def actor(request: Request) -> User:
    """The signed-in caller (a key's account or a person); IsAuthenticated let
    only those through."""
    user = request.user
    assert isinstance(user, User), "IsAuthenticated lets only signed-in users through"
    return user


def valid(serializer: type[serializers.Serializer], data: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """The data as `serializer` cleans it; a 400 problem naming each field otherwise."""
    checked = serializer(data=data)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


def require_scope(request: Request, scope: str, definition: str | None = None) -> None:
    """PermissionDenied (403 with the reason) unless the caller's key, if any,
    is scoped to `scope` (and `definition`)."""
    refusal = permissions.api_scope_refusal(request.auth, scope, definition)
    if refusal is not None:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(refusal)


class CursorPage(pagination.CursorPagination):
    """Newest first by id; `cursor` carries the position, so a page costs the
    same wherever it is and rows added meanwhile neither repeat nor vanish."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def etagged(request: Request, data: Any) -> Response:
    """A single resource with a strong ETag of its body; 304 when the caller's
    If-None-Match already names it."""
    body = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True).encode()
    tag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    wanted = {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}
    response = Response(status=304) if tag in wanted or "*" in wanted else Response(data)
    response["ETag"] = tag
    return response


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """One budget per API key (per person for browser sessions):
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api"]."""

    scope = "api"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.auth is not None and hasattr(request.auth, "prefix"):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def shown(request: Request, instance: Any, *values: Any) -> tuple[Any, ...]:
    """Stored values as the caller may see them: open (and audited) only in
    answers to reads; an action's answer may be kept for idempotent replays,
    so it always masks sensitive values."""
    from orchestration import disclosure, sensitive

    if request.method in ("GET", "HEAD"):
        return disclosure.shown(request.user, instance, *values, where=disclosure.API)
    return tuple(sensitive.masked(v) for v in values)
