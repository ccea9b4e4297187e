"""One map from domain errors to what every entry point says about them.

A domain error becomes a Problem: an HTTP status, a stable `code` that scripts
can rely on, a message that says why (the policy module's refusals name the
rule: "alice started this instance and is excluded from deciding it (four-eyes)"),
and per-field errors where the input was at fault. Management commands, the
admin, and (with the inbox and the REST API) views and endpoints all render the
same Problem; none of them maps exceptions by hand. Anything not in the table is
a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import ProtectedError
from django.utils.translation import gettext

from orchestration.exceptions import (
    AppendOnly,
    DefinitionInvalid,
    ImmutableVersion,
    InstanceConflict,
    InvalidInput,
    MigrationRefused,
    NoMatch,
    TransitionNotAllowed,
    VersionNotFound,
)


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    errors: dict[str, list[str]] = field(default_factory=dict)

    def text(self) -> str:
        """The message with one line per field error (for a terminal or a flash)."""
        lines = [f"{name}: {message}" for name, messages in self.errors.items()
                 for message in messages]  # fmt: skip
        return "\n".join([self.message, *lines]) if lines else self.message


def _invalid(exc: InvalidInput) -> Problem:
    return Problem(400, "invalid_input", gettext("the input is not valid"), dict(exc.errors))


def _definition(exc: DefinitionInvalid) -> Problem:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(error.path, []).append(error.message)
    return Problem(400, "definition_invalid", gettext("the definition is not valid"), errors)


def _migration(exc: MigrationRefused) -> Problem:
    errors = {f"instance {pk}": [why] for pk, why in sorted(exc.problems.items())}
    return Problem(409, "migration_refused", gettext("%(problem)s; none moved") % {"problem": exc},
                   errors)  # fmt: skip


def _protected(exc: ProtectedError) -> Problem:
    names = ", ".join(sorted(str(obj) for obj in exc.protected_objects))
    return Problem(409, "protected", gettext("still in use by %(names)s") % {"names": names})


# Most specific first: the first matching class wins.
_TABLE: list[tuple[type[BaseException], Callable[[BaseException], Problem]]] = [
    (InvalidInput, _invalid),  # type: ignore[list-item]
    (DefinitionInvalid, _definition),  # type: ignore[list-item]
    (
        PermissionDenied,
        lambda e: Problem(403, "permission_denied", str(e) or gettext("not allowed")),
    ),
    (VersionNotFound, lambda e: Problem(404, "version_not_found", str(e))),
    (NoMatch, lambda e: Problem(404, "no_match", str(e))),
    (ObjectDoesNotExist, lambda e: Problem(404, "not_found", str(e) or gettext("not found"))),
    (InstanceConflict, lambda e: Problem(409, e.code, str(e))),  # type: ignore[attr-defined]
    (TransitionNotAllowed, lambda e: Problem(409, "transition_not_allowed", str(e))),
    (MigrationRefused, _migration),  # type: ignore[list-item]
    (ImmutableVersion, lambda e: Problem(409, "immutable_version", str(e))),
    (AppendOnly, lambda e: Problem(409, "append_only", str(e))),
    (ProtectedError, _protected),  # type: ignore[list-item]
]


def problem_for(exc: BaseException) -> Problem | None:
    """The Problem for a domain error; None for anything else (a bug)."""
    for kind, build in _TABLE:
        if isinstance(exc, kind):
            return build(exc)
    return None
