"""Request and response bodies. Responses are built as dicts by the views;
these classes validate requests and describe every body in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from orchestration.states import InstanceStatus, TaskStatus

# -- errors (RFC 9457) ------------------------------------------------------


SENSITIVE_NOTE = (
    'Values the definition marks sensitive read "••••••", except in answers to GET for '
    "callers granted view_sensitive_processinstance (each such answer is audited)."
)


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable; scripts may rely on it.")
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per field path (e.g. variables.amount).",
    )


# -- definitions -----------------------------------------------------------


# The problem answers every endpoint may give, for the schema.
ERRORS = {code: OpenApiResponse(ProblemSerializer) for code in (400, 401, 403, 404, 409, 429)}


class VersionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    number = serializers.IntegerField()
    status = serializers.CharField()
    content_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)


class DefinitionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    name = serializers.CharField()
    published_version = serializers.IntegerField(allow_null=True)
    versions = VersionSerializer(many=True)


class DefinitionDetailSerializer(DefinitionSerializer):
    variables_schema = serializers.DictField(
        allow_null=True, help_text="JSON Schema of the newest published version's variables."
    )


class DeploySerializer(serializers.Serializer):  # type: ignore[type-arg]
    source = serializers.CharField(  # type: ignore[assignment]
        required=False,
        max_length=512 * 1024,
        trim_whitespace=False,
        help_text="The definition as YAML or JSON text.",
    )
    definition = serializers.DictField(required=False, help_text="The definition as an object.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("source" in attrs) == ("definition" in attrs):
            raise serializers.ValidationError(gettext("give exactly one of source or definition"))
        return attrs


class DeployedSerializer(VersionSerializer):
    definition = serializers.CharField()
    changed = serializers.BooleanField(help_text="False: identical to the newest version.")


class PublishSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(required=False, default="", max_length=500, allow_blank=True)


# -- instances ----------------------------------------------------------------


class StartSerializer(serializers.Serializer):  # type: ignore[type-arg]
    definition = serializers.SlugField(max_length=100)
    version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, allow_null=True
    )
    business_key = serializers.CharField(
        required=False, default="", max_length=200, allow_blank=True
    )
    variables = serializers.DictField(required=False, default=dict)


class InstanceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    definition = serializers.CharField()
    version = serializers.IntegerField()
    business_key = serializers.CharField()
    status = serializers.ChoiceField(choices=InstanceStatus.choices)
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class OpenTaskSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    step = serializers.CharField()
    title = serializers.CharField()
    assignees = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    due_at = serializers.DateTimeField(allow_null=True)


class StepRecordSerializer(serializers.Serializer):  # type: ignore[type-arg]
    step = serializers.CharField()
    execution = serializers.IntegerField()
    attempt = serializers.IntegerField()
    compensation = serializers.BooleanField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    error = serializers.JSONField(allow_null=True)


class InstanceDetailSerializer(InstanceSerializer):
    result = serializers.CharField(allow_blank=True)
    error = serializers.DictField(allow_null=True)
    variables = serializers.DictField(help_text=SENSITIVE_NOTE)
    current_steps = serializers.ListField(child=serializers.CharField())
    open_tasks = OpenTaskSerializer(many=True)
    steps = StepRecordSerializer(many=True)
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    started_by = serializers.CharField(allow_null=True)
    purged_at = serializers.DateTimeField(
        allow_null=True, help_text="When its personal data was removed (retention or erasure)."
    )
    on_hold = serializers.BooleanField(help_text="A legal hold keeps it from purge and erasure.")


class EventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    client = serializers.CharField(allow_blank=True)
    step = serializers.CharField(allow_blank=True)
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    payload = serializers.DictField()


class CancelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(required=False, default="", max_length=500, allow_blank=True)


class MigrationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Fields `from` and `to` (a Python keyword cannot be an attribute)."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "from": serializers.IntegerField(
                min_value=1, max_value=2**31 - 1, help_text="The version they run."
            ),
            "to": serializers.IntegerField(
                min_value=1, max_value=2**31 - 1, help_text="A published version."
            ),
            "map": serializers.DictField(
                child=serializers.CharField(max_length=100),
                required=False,
                default=dict,
                help_text="Old step id to new step id, for steps renamed in `to`.",
            ),
            "dry_run": serializers.BooleanField(
                required=False, default=False, help_text="Only say what each would do."
            ),
        }


class MigrationMoveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {"from": serializers.CharField(), "to": serializers.CharField(),
                "current": serializers.BooleanField()}  # fmt: skip


class MigrationLineSerializer(serializers.Serializer):  # type: ignore[type-arg]
    instance = serializers.IntegerField()
    status = serializers.CharField()
    moves = MigrationMoveSerializer(many=True)
    problem = serializers.CharField(allow_null=True)


class MigrationResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    dry_run = serializers.BooleanField()
    moved = serializers.ListField(child=serializers.IntegerField())
    plan = MigrationLineSerializer(many=True)


class VariablesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    variables = serializers.DictField(help_text="New values of declared variables.")
    reason = serializers.CharField(max_length=1000, help_text="Why (audited).")


class ReasonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=1000, help_text="Why (kept in the audit log).")


class MoveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Fields named `from` and `to` (a Python keyword cannot be an attribute)."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "from": serializers.CharField(max_length=100, help_text="The step the flow is at now."),
            "to": serializers.CharField(
                max_length=100, help_text="The step it goes to (an earlier one: a redo)."
            ),
            "reason": serializers.CharField(max_length=1000, help_text="Why (audited)."),
        }


class MessageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    payload = serializers.DictField(required=False, default=dict)


# -- tasks -------------------------------------------------------------------


class TaskSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    instance = serializers.IntegerField()
    definition = serializers.CharField()
    business_key = serializers.CharField()
    step = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    priority = serializers.IntegerField()
    due_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    claimed_by = serializers.CharField(allow_null=True)
    delegate = serializers.CharField(allow_null=True)
    outcomes = serializers.ListField(child=serializers.CharField())
    outcome = serializers.CharField(allow_blank=True)


class TaskDetailSerializer(TaskSerializer):
    form = serializers.ListField(child=serializers.DictField())
    data = serializers.DictField(help_text=SENSITIVE_NOTE)  # type: ignore[assignment]
    variables = serializers.DictField(help_text=SENSITIVE_NOTE)
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class DelegateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    user = serializers.CharField(max_length=150, help_text="The username to delegate to.")
    note = serializers.CharField(required=False, default="", max_length=500, allow_blank=True)


class AskInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    user = serializers.CharField(max_length=150, help_text="The username asked for input.")
    reason = serializers.CharField(max_length=1000, help_text="What is asked (audited).")


class ForceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    outcome = serializers.CharField(max_length=100)
    reason = serializers.CharField(max_length=1000, help_text="why it is pushed through")


class CompleteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    outcome = serializers.CharField(max_length=100)
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    comment = serializers.CharField(required=False, default="", max_length=4000, allow_blank=True)
