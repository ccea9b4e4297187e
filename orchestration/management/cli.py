"""What the instance commands share: JSON options, --as, and error reporting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from orchestration.problems import problem_for

T = TypeVar("T")


def json_option(name: str, raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CommandError(f"{name}: not valid JSON ({exc})") from None


def actor_option(username: str | None) -> Any:
    """The user named by --as; without it, the system acts."""
    if username is None:
        return None
    model = get_user_model()
    try:
        return model.objects.get(**{model.USERNAME_FIELD: username})
    except model.DoesNotExist:
        raise CommandError(f"--as: no user {username!r}") from None


def run_service(call: Callable[[], T], *, what: str = "", actor: Any = None) -> T:
    """Call a service, turning domain errors into CommandError (exit status 1) with
    the message of the one error map (orchestration.problems)."""
    try:
        return call()
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise CommandError(problem.text()) from None
