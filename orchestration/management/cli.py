"""What the instance commands share: JSON options, --as, and error reporting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError

from orchestration.exceptions import (
    InstanceConflict,
    InvalidInput,
    MigrationRefused,
    VersionNotFound,
)

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


def run_service(call: Callable[[], T], *, what: str, actor: Any) -> T:
    """Call a service, turning domain errors into CommandError (exit status 1)."""
    try:
        return call()
    except InvalidInput as exc:
        lines = [
            f"{field}: {message}" for field, messages in exc.errors.items() for message in messages
        ]
        raise CommandError("\n".join(lines)) from None
    except PermissionDenied:
        who = actor.get_username() if actor is not None else "the system"
        raise CommandError(f"{who} may not {what}") from None
    except (InstanceConflict, VersionNotFound) as exc:
        raise CommandError(str(exc)) from None
    except MigrationRefused as exc:
        lines = [f"instance {pk}: {why}" for pk, why in sorted(exc.problems.items())]
        raise CommandError(f"{exc}; none moved:\n" + "\n".join(lines)) from None
    except Exception as exc:
        if type(exc).__name__ == "DoesNotExist":
            raise CommandError(str(exc) or "not found") from None
        raise
