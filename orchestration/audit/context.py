"""Who and where an action came from, for every audit row written meanwhile.

A request sets it (its id and the client's address; the API also names the
key it was called with), the worker leaves it empty (the system). Audit rows
read it through their field defaults, so every writer records it without
passing it along.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_request_id: ContextVar[str] = ContextVar("audit_request_id", default="")
_ip: ContextVar[str | None] = ContextVar("audit_ip", default=None)
_client: ContextVar[str] = ContextVar("audit_client", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id() -> str:
    return _request_id.get()


def ip() -> str | None:
    return _ip.get()


def client() -> str:
    """The API client (key name) acting, "" for people and the system."""
    return _client.get()


def set_client(name: str) -> None:
    _client.set(name[:150])


class AuditContextMiddleware:
    """Give each request an id (the caller's X-Request-ID when it is a sane one),
    note the client's address, and echo the id in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from axes.helpers import get_client_ip_address

        given = request.headers.get("X-Request-ID", "")
        rid = given if _VALID_ID.match(given) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]  # for lines logged after (log_context)
        tokens = (
            _request_id.set(rid),
            _ip.set(get_client_ip_address(request) or None),
            _client.set(""),
        )
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(tokens[0])
            _ip.reset(tokens[1])
            _client.reset(tokens[2])
        response["X-Request-ID"] = rid
        return response
