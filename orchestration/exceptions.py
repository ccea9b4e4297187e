"""Errors the domain raises; entry points map them (409, 404, 400) in one place."""

from __future__ import annotations

from django.utils.translation import gettext

from orchestration.definitions.errors import DefinitionError, DefinitionInvalid

__all__ = [
    "AppendOnly",
    "BusinessError",
    "DefinitionError",
    "DefinitionInvalid",
    "ImmutableVersion",
    "InstanceConflict",
    "InvalidInput",
    "MigrationRefused",
    "RetryableError",
    "TransitionNotAllowed",
    "VersionNotFound",
]


class TransitionNotAllowed(Exception):
    """A status change that the allowed-transitions table does not list."""

    def __init__(self, obj: object, source: str, target: str) -> None:
        self.source, self.target = source, target
        words = gettext("%(kind)s cannot go from %(source)s to %(target)s")
        super().__init__(words % {"kind": type(obj).__name__, "source": source, "target": target})


class ImmutableVersion(Exception):
    """Something tried to change or delete a version that is no longer a draft."""


class AppendOnly(Exception):
    """Something tried to change or delete an audit/outbox row."""


class VersionNotFound(LookupError):
    """No version of that definition can start instances (none published, or not that number)."""


class NoMatch(LookupError):
    """A message by business key found no instance waiting for it, and was not
    to be kept (no ttl)."""


class RetryableError(Exception):
    """Raised by a handler for a transient failure: the step is retried with backoff."""


class BusinessError(Exception):
    """Raised by a handler for a business outcome: routed by the step's `on_error` code."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(message or code)


class InvalidInput(ValueError):
    """Input refused field by field; nothing was changed. `errors` maps field -> messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


class InstanceConflict(Exception):
    """The instance is not in a state where this can happen (finished, nothing waiting...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class MigrationRefused(Exception):
    """migrate_instances found instances that cannot move; none were moved."""

    def __init__(self, problems: dict[int, str]) -> None:
        self.problems = problems
        super().__init__(gettext("%(n)s instance(s) cannot move") % {"n": len(problems)})
