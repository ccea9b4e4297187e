"""Every call under /api/v1/ is written to the API's access log (ApiCall):
the key and account it came with, method, path, status, request id, address
and duration; reads included. A failure to write it is logged and does not
fail the call (the call's own changes are already committed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse

from api.models import ApiCall
from orchestration import clock
from orchestration.audit import context as audit_context

log = logging.getLogger(__name__)
PREFIX = "/api/v1/"


class ApiCallLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        began = time.perf_counter()
        response = self.get_response(request)
        key = getattr(request, "api_key", None)
        user = getattr(request, "user", None)
        if key is not None:
            user = key.user  # also for a replay, answered before authentication
        try:
            _write(
                ApiCall(
                    key=key,
                    user=user if user is not None and user.is_authenticated else None,
                    method=(request.method or "")[:8],
                    path=request.path[:300],
                    status=response.status_code,
                    request_id=audit_context.request_id(),
                    ip=audit_context.ip(),
                    milliseconds=int((time.perf_counter() - began) * 1000),
                )
            )
        except Exception:  # the access log must not turn an answer into a 500
            log.exception("API call not logged: %s %s", request.method, request.path)
        return response


_COLUMNS = (
    "at",
    "key_id",
    "user_id",
    "method",
    "path",
    "status",
    "request_id",
    "ip",
    "milliseconds",
)
_INSERT = (
    f"INSERT INTO {ApiCall._meta.db_table} ({', '.join(_COLUMNS)})"  # noqa: S608 - our table
    f" VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)


def _write(call: ApiCall) -> None:
    """One plain INSERT (the ORM's own took a tenth of a start's time), and on
    PostgreSQL without waiting for the disk (asynchronous commit): a crash may
    lose the last fraction of a second of access-log rows, never corrupt
    them; the call's own changes were committed durably before."""
    values = [getattr(call, column) for column in _COLUMNS]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_INSERT, values)


def prune(*, limit: int = 5000) -> int:
    """Forget up to `limit` calls older than API_CALL_LOG_DAYS."""
    cutoff = clock.now() - timedelta(days=settings.API_CALL_LOG_DAYS)
    old = ApiCall.objects.filter(at__lt=cutoff).values_list("pk", flat=True)
    return ApiCall.objects.filter(pk__in=list(old[:limit])).delete()[0]
