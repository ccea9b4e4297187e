"""`Idempotency-Key` on POSTs under /api/: a replay with the same key and body
gets the first answer again without acting again; the same key with another
request (api.fingerprints: the same JSON spelled differently is the same) is
refused (422). Keys are kept for a day.

The key's row is written in the same transaction as the work it guards, before
the work: a concurrent replay's insert waits on the unique index until the
first request commits (PostgreSQL), then reads its answer. A bug (a 5xx) rolls
both back, so the key can be used again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from api import keys
from api.errors import API_PREFIX, problem_response
from api.fingerprints import request_fingerprint
from api.models import IdempotentRequest
from orchestration import clock
from orchestration.problems import Problem

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
_MAX_KEY = 255
# Answers that did not act are not kept: the caller may retry them as they are.
_NOT_KEPT = {401, 429}


def _owner(request: HttpRequest) -> str | None:
    token = keys.bearer(request)
    if token is not None:
        # Only a valid key owns answers: a caller who knows a key's prefix and
        # an idempotency key must not read another's answer.
        key = keys.find(token)
        if key is None:
            return None
        request.api_key = key  # type: ignore[attr-defined]  # a replay is logged with it
        return f"key:{key.prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _replay(row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status, content_type=row.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def prune(*, limit: int = 5000) -> int:
    """Forget up to `limit` keys older than a day (api.jobs.housekeeping, hourly)."""
    cutoff = clock.now() - KEEP
    old = IdempotentRequest.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)
    return IdempotentRequest.objects.filter(pk__in=list(old[:limit])).delete()[0]


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if not key or len(key) > _MAX_KEY:
            return problem_response(
                Problem(
                    400,
                    "invalid_idempotency_key",
                    f"{HEADER} must be 1 to 255 characters",
                    {HEADER: ["1 to 255 characters"]},
                ),
                request.path,
            )
        owner = _owner(request)
        if owner is None:  # unauthenticated: the view refuses it; nothing to keep
            return self.get_response(request)
        fingerprint = request_fingerprint(request.method, request.path, request.body)
        now = clock.now()
        IdempotentRequest.objects.filter(owner=owner, key=key, created_at__lt=now - KEEP).delete()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row = IdempotentRequest.objects.create(
                        owner=owner,
                        key=key,
                        fingerprint=fingerprint,
                        status=0,
                        content_type="",
                        body=b"",
                        created_at=now,
                    )
            except IntegrityError:
                row = None
            if row is None:
                earlier = IdempotentRequest.objects.get(owner=owner, key=key)
                if earlier.fingerprint != fingerprint:
                    return problem_response(
                        Problem(
                            422,
                            "idempotency_key_reused",
                            f"this {HEADER} was used for a different request",
                        ),
                        request.path,
                    )
                return _replay(earlier)
            response = self.get_response(request)
            if response.status_code >= 500 or response.status_code in _NOT_KEPT:
                transaction.set_rollback(True)
                return response
            row.status = response.status_code
            row.content_type = response.get("Content-Type", "application/json")
            row.body = response.content
            row.save(update_fields=["status", "content_type", "body"])
        return response
