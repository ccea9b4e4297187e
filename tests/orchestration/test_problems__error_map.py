"""The one error map: every domain error has a status, a stable code and a reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError

from orchestration.definitions.errors import DefinitionError, DefinitionInvalid
from orchestration.exceptions import (
    AppendOnly,
    ImmutableVersion,
    InstanceConflict,
    InvalidInput,
    MigrationRefused,
    TransitionNotAllowed,
    VersionNotFound,
)
from orchestration.models import HumanTask, ProcessInstance
from orchestration.problems import problem_for


@pytest.mark.parametrize(
    ("error", "status", "code", "text"),
    [
        (
            InvalidInput({"n": ["expected integer, got string"]}),
            400,
            "invalid_input",
            "the input is not valid\nn: expected integer, got string",
        ),
        (
            DefinitionInvalid([DefinitionError("steps.a.next", "unknown step 'b'")]),
            400,
            "definition_invalid",
            "the definition is not valid\nsteps.a.next: unknown step 'b'",
        ),
        (
            PermissionDenied("alice started this instance and is excluded from deciding it"),
            403,
            "permission_denied",
            "alice started this instance and is excluded from deciding it",
        ),
        (PermissionDenied(), 403, "permission_denied", "not allowed"),
        (HumanTask.DoesNotExist("no task 4"), 404, "not_found", "no task 4"),
        (ProcessInstance.DoesNotExist("no instance 9"), 404, "not_found", "no instance 9"),
        (VersionNotFound("'x' has no published version"), 404, "version_not_found", None),
        (InstanceConflict("task_closed", "task 4 is already completed"), 409, "task_closed", None),
        (TransitionNotAllowed(object(), "retired", "published"), 409, "transition_not_allowed",
         "object cannot go from retired to published"),
        (MigrationRefused({3: "step 'a' has no counterpart in version 2"}), 409,
         "migration_refused", "1 instance(s) cannot move; none moved\n"
         "instance 3: step 'a' has no counterpart in version 2"),
        (ImmutableVersion("v1 is published"), 409, "immutable_version", "v1 is published"),
        (AppendOnly("process events are append-only"), 409, "append_only", None),
        (ProtectedError("x", {"task #4 ask (open)"}), 409, "protected",
         "still in use by task #4 ask (open)"),
    ],
)  # fmt: skip
def test_each_domain_error_maps_to_one_problem(error, status, code, text) -> None:
    problem = problem_for(error)
    assert problem is not None
    assert (problem.status, problem.code) == (status, code)
    assert problem.text() == (text if text is not None else str(error))


def test_anything_else_is_a_bug_and_is_not_mapped() -> None:
    assert problem_for(KeyError("x")) is None
    assert problem_for(ValueError("x")) is None
