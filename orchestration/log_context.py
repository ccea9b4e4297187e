"""What each log line says it is about: the request, the person, and the
engine's instance, step, task, worker and attempt wherever they are known.

Code binds what it knows for a block (`bound(instance=..., step=...)`); the
`LogContext` filter copies it, with the request id the audit context keeps,
onto every record logged meanwhile, for the JSON formatter (and the plain one
in the demo: it prints the message only)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from orchestration.audit import context as audit_context

FIELDS = ("user", "instance", "step", "task", "worker", "attempt")
_NOTHING: dict[str, Any] = {}
_bound: ContextVar[dict[str, Any]] = ContextVar("log_context", default=_NOTHING)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """These fields on every record logged in the block (None leaves a field out)."""
    token = _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def note(**fields: Any) -> None:
    """Add fields to the innermost bound block, for the rest of it: what a
    request learns half-way (the API key's person, once DRF authenticated it)."""
    found = _bound.get()
    if found is not _NOTHING:
        found.update({k: v for k, v in fields.items() if v is not None})


def current() -> dict[str, Any]:
    found = dict(_bound.get())
    request_id = audit_context.request_id()
    if request_id:
        found["request_id"] = request_id
    return found


class LogContext(logging.Filter):
    """Adds the bound fields to each record (never filters one out). Django logs
    a 4xx or 5xx answer after the middleware is done with it; such a record
    carries its request, which keeps its id and person."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = current()
        request = getattr(record, "request", None)
        if request is not None and "request_id" not in found:
            found["request_id"] = getattr(request, "request_id", None)
            user = getattr(request, "user", None)
            if user is not None and getattr(user, "is_authenticated", False):
                found["user"] = user.get_username()
        for name, value in found.items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonLines(JsonFormatter):
    """One JSON object per record; the request object itself stays out (its
    id and person are fields of their own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)


class UserLogMiddleware:
    """After authentication: the person (their username) on the request's log
    lines; API calls add theirs when the key is checked (api/authentication.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bound():
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                note(user=user.get_username())
            return self.get_response(request)
