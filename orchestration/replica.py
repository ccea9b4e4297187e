"""Reads that may go to a PostgreSQL streaming replica (DATABASE_REPLICA_URL).

Only the views that say so read there (`reads(request)`): the inbox's lists,
the instance list, the reports and the API's lists and report. Everything
else, every write and every read of the engine and the admin, uses the
primary. The lag rule (docs/operations.md, "Read replica"):

- the replica serves a request only while it is at most
  ORCHESTRATION_REPLICA_MAX_LAG_SECONDS behind the primary (asked of the
  replica at most once a second per process; a replica that does not answer
  is left alone for 5 seconds and the primary serves);
- never a person in the ORCHESTRATION_REPLICA_STICKY_SECONDS after they
  changed something through the pages (a signed cookie, set by
  `WroteMiddleware`): they see their own decision at once;
- never an API call that asks for fresh data (`Cache-Control: no-cache`), nor
  the API's reads of one instance or task (a client that just made one reads
  it by id).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase

log = logging.getLogger(__name__)

REPLICA = "replica"
COOKIE = "engine_wrote"
_reading: ContextVar[bool] = ContextVar("replica_reading", default=False)
_LAG_SQL = (
    # Fully replayed what it received: not behind, however old the last
    # transaction (an idle primary sends nothing new).
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)


class _Health:
    checked_at = -1e9
    lag: float | None = None  # None: unknown (not answering, or not a replica)


_health = _Health()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def lag_seconds(*, fresh: bool = False) -> float | None:
    """How far the replica is behind (seconds), None when it does not answer;
    asked at most once a second (every 5 s while it does not answer)."""
    if not configured():
        return None
    wait = 1.0 if _health.lag is not None else 5.0
    if not fresh and time.monotonic() - _health.checked_at < wait:
        return _health.lag
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(_LAG_SQL)
            row = cursor.fetchone()
        _health.lag = None if row is None or row[0] is None else float(row[0])
    except DatabaseError as exc:
        log.warning("read replica not answering: %s", exc)
        connections[REPLICA].close()
        _health.lag = None
    _health.checked_at = time.monotonic()
    return _health.lag


def usable() -> bool:
    lag = lag_seconds()
    return lag is not None and lag <= settings.ORCHESTRATION_REPLICA_MAX_LAG_SECONDS


def _wrote_lately(request: HttpRequest) -> bool:
    try:
        request.get_signed_cookie(COOKIE, max_age=settings.ORCHESTRATION_REPLICA_STICKY_SECONDS)
    except (KeyError, signing.BadSignature):
        return False
    return True


@contextlib.contextmanager
def reads(request: Any) -> Iterator[bool]:
    """Within the block, reads go to the replica when the rule allows; yields
    whether they do."""
    use = (
        configured()
        and request.method in ("GET", "HEAD")
        and "no-cache" not in request.headers.get("Cache-Control", "")
        and not _wrote_lately(request)
        and usable()
    )
    token = _reading.set(use)
    try:
        yield use
    finally:
        _reading.reset(token)


def replica_reads(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A view whose reads may go to the replica (`reads`)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with reads(request):
            return view(request, *args, **kwargs)

    return wrapper


class ReplicaRouter:
    """Installed when DATABASE_REPLICA_URL is set (config/settings/base.py)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if _reading.get() else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA


class WroteMiddleware:
    """After a person's change (any request that is not GET or HEAD), their
    reads stay on the primary for ORCHESTRATION_REPLICA_STICKY_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if configured() and request.method not in ("GET", "HEAD", "OPTIONS"):
            response.set_signed_cookie(
                COOKIE, "1", max_age=settings.ORCHESTRATION_REPLICA_STICKY_SECONDS,
                httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
            )  # fmt: skip
        return response
