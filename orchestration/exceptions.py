"""Errors the domain raises; entry points map them (409, 404, 400) in one place."""

from __future__ import annotations

from orchestration.definitions.errors import DefinitionError, DefinitionInvalid

__all__ = [
    "AppendOnly",
    "BusinessError",
    "DefinitionError",
    "DefinitionInvalid",
    "ImmutableVersion",
    "RetryableError",
    "TransitionNotAllowed",
    "VersionNotFound",
]


class TransitionNotAllowed(Exception):
    """A status change that the allowed-transitions table does not list."""

    def __init__(self, obj: object, source: str, target: str) -> None:
        self.source, self.target = source, target
        super().__init__(f"{type(obj).__name__} cannot go from {source} to {target}")


class ImmutableVersion(Exception):
    """Something tried to change or delete a version that is no longer a draft."""


class AppendOnly(Exception):
    """Something tried to change or delete an audit/outbox row."""


class VersionNotFound(LookupError):
    """No version of that definition can start instances (none published, or not that number)."""


class RetryableError(Exception):
    """Raised by a handler for a transient failure: the step is retried with backoff."""


class BusinessError(Exception):
    """Raised by a handler for a business outcome: routed by the step's `on_error` code."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(message or code)
