"""Files of an instance over the API: list, add (multipart) and download,
under the same rules as the inbox (permissions.attach_refusal,
can_read_attachment)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import actor, require_scope, valid
from api.serializers import ERRORS
from orchestration import selectors, services
from orchestration.models import Attachment, HumanTask, ProcessInstance


class AttachmentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    task = serializers.IntegerField(allow_null=True)
    uploaded_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.CharField(help_text="Where to download it (GET, the file itself)")


class AttachmentUpload(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField(help_text="The file (multipart/form-data)")
    task = serializers.IntegerField(
        required=False, min_value=1, help_text="The task it belongs to; omitted: the instance"
    )


def _data(request: Request, row: Attachment) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("api:attachment", args=[row.pk]))
    return {"id": row.pk, "name": row.name, "content_type": row.content_type,
            "size": row.size, "sha256": row.sha256, "task": row.task_id,
            "uploaded_by": row.uploaded_by.get_username() if row.uploaded_by else None,
            "created_at": row.created_at, "url": url}  # fmt: skip


def _instance(request: Request, pk: int) -> ProcessInstance:
    """The instance when the caller sees it or one of its tasks; 404 otherwise."""
    found = (
        ProcessInstance.objects.select_related("definition")
        .filter(permissions.api_definitions_q(request.auth, "definition__key"), pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    user = request.user
    if (
        permissions.can_see_instance(user, found)
        or HumanTask.objects.filter(permissions.tasks_visible_q(user), instance=found).exists()
    ):
        return found
    raise Http404


class InstanceAttachments(APIView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        responses={200: AttachmentSerializer(many=True), **ERRORS},
        summary="The instance's files the caller may read",
    )
    def get(self, request: Request, pk: int) -> Response:
        require_scope(request, "instances:read")
        instance = _instance(request, pk)
        rows = selectors.readable_attachments(request.user, instance)
        return Response([_data(request, a) for a in rows])

    @extend_schema(
        request={"multipart/form-data": AttachmentUpload},
        responses={201: AttachmentSerializer, **ERRORS},
        summary="Add a file to the instance, or to one of its tasks",
        description="Within ORCHESTRATION_ATTACHMENT_MAX_BYTES, of the allowed types"
        " (ORCHESTRATION_ATTACHMENT_TYPES, by extension), at most"
        " ORCHESTRATION_ATTACHMENTS_PER_INSTANCE per instance. On a task: whoever may"
        " comment on it (scope tasks:act); on the instance: its starter and operators"
        " (scope instances:start).",
    )
    def post(self, request: Request, pk: int) -> Response:
        given = valid(AttachmentUpload, request.data)
        instance = _instance(request, pk)
        scope = "tasks:act" if "task" in given else "instances:start"
        require_scope(request, scope, instance.definition.key)
        upload = given["file"]
        with transaction.atomic():
            row = services.attachment_add(
                instance_id=instance.pk, task_id=given.get("task"), actor=actor(request),
                upload=upload, name=upload.name or "", size=upload.size or 0,
            )  # fmt: skip
        return Response(_data(request, row), status=201)


class AttachmentContent(APIView):
    @extend_schema(
        responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
        summary="The file itself",
        description="In the content type its name says (application/pdf, image/png, ...).",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> FileResponse:
        require_scope(request, "instances:read")
        found = (
            Attachment.objects.select_related("task__instance", "instance")
            .filter(permissions.api_definitions_q(request.auth, "instance__definition__key"), pk=pk)
            .first()
        )
        if found is None or not permissions.can_read_attachment(request.user, found):
            raise Http404
        return FileResponse(found.file.open("rb"), as_attachment=True, filename=found.name,
                            content_type=found.content_type)  # fmt: skip
