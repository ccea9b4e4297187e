"""Instances: start, list, read, history, cancel, retry, and messages to one."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import CursorPage, actor, etagged, require_scope, shown, valid
from api.serializers import (
    ERRORS,
    CancelSerializer,
    EventSerializer,
    InstanceDetailSerializer,
    InstanceSerializer,
    MessageSerializer,
    MoveSerializer,
    ReasonSerializer,
    StartSerializer,
    VariablesSerializer,
)
from orchestration import log_context, selectors, services
from orchestration.models import ProcessEvent, ProcessInstance
from orchestration.replica import replica_reads
from orchestration.states import InstanceStatus


def instance_data(instance: ProcessInstance) -> dict[str, Any]:
    return {
        "id": instance.pk,
        "definition": instance.definition.key,
        "version": instance.version.number,
        "business_key": instance.business_key,
        "status": instance.status,
        "created_at": instance.created_at,
        "ended_at": instance.ended_at,
    }


def visible_instances(request: Request) -> Any:
    return ProcessInstance.objects.select_related("definition", "version").filter(
        permissions.instances_visible_q(request.user),
        permissions.api_definitions_q(request.auth, "definition__key"),
    )


def visible_instance(request: Request, pk: int) -> ProcessInstance:
    """The instance when the caller may see it; 404 whether it exists or not."""
    instance = visible_instances(request).filter(pk=pk).first()
    if instance is None:
        raise Http404
    log_context.note(instance=instance.pk)
    return cast(ProcessInstance, instance)


class InstanceFilter(serializers.Serializer):  # type: ignore[type-arg]
    definition = serializers.SlugField(required=False, max_length=100)
    status = serializers.ChoiceField(choices=InstanceStatus.choices, required=False)
    business_key = serializers.CharField(required=False, max_length=200)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)


class InstanceCollection(GenericAPIView):  # type: ignore[type-arg]
    pagination_class = CursorPage
    serializer_class = InstanceSerializer

    @extend_schema(
        parameters=[InstanceFilter],
        responses={200: InstanceSerializer(many=True), **ERRORS},
        summary="Instances the caller may see, newest first",
    )
    @method_decorator(replica_reads)
    def get(self, request: Request) -> Response:
        require_scope(request, "instances:read")
        given = valid(InstanceFilter, request.query_params)
        rows = visible_instances(request)
        if "definition" in given:
            rows = rows.filter(definition__key=given["definition"])
        if "status" in given:
            rows = rows.filter(status=given["status"])
        if "business_key" in given:
            rows = rows.filter(business_key=given["business_key"])
        if "started_after" in given:
            rows = rows.filter(created_at__gte=given["started_after"])
        if "started_before" in given:
            rows = rows.filter(created_at__lt=given["started_before"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([instance_data(i) for i in page or []])

    @extend_schema(
        request=StartSerializer,
        responses={201: InstanceDetailSerializer, **ERRORS},
        summary="Start an instance of a published definition",
        description="Answers the instance as GET /instances/{id} shows it (its open tasks"
        " included, where the start reached an approval at once), with its URL in Location.",
    )
    def post(self, request: Request) -> Response:
        given = valid(StartSerializer, request.data)
        require_scope(request, "instances:start", given["definition"])
        instance = services.instance_start(
            key=given["definition"],
            version=given.get("version"),
            business_key=given["business_key"],
            variables=given["variables"],
            actor=actor(request),
        )
        url = reverse("api:instance", args=[instance.pk])
        data = _disclosed(request, instance, selectors.instance_status_data(instance.pk))
        return Response(data, status=201, headers={"Location": request.build_absolute_uri(url)})


class InstanceDetail(APIView):
    @extend_schema(
        responses={200: InstanceDetailSerializer, 304: None, **ERRORS},
        summary="An instance: status, current steps, open tasks, step records",
    )
    def get(self, request: Request, pk: int) -> Response:
        require_scope(request, "instances:read")
        instance = visible_instance(request, pk)
        return etagged(
            request, _disclosed(request, instance, selectors.instance_status_data(instance.pk))
        )


def _disclosed(request: Request, instance: ProcessInstance, data: dict[str, Any]) -> dict[str, Any]:
    """Sensitive values masked, or open (and audited) for a caller allowed to see them."""
    data["variables"], data["error"] = shown(request, instance, data["variables"], data["error"])
    return data


class InstanceHistory(GenericAPIView):  # type: ignore[type-arg]
    pagination_class = CursorPage
    serializer_class = EventSerializer

    @extend_schema(
        responses={200: EventSerializer(many=True), **ERRORS},
        summary="The instance's audit events, newest first",
    )
    def get(self, request: Request, pk: int) -> Response:
        require_scope(request, "instances:read")
        instance = visible_instance(request, pk)
        rows = ProcessEvent.objects.filter(instance=instance).select_related("actor")
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response(
            [
                {
                    "id": e.pk,
                    "at": e.created_at,
                    "kind": e.kind,
                    "actor": e.actor.get_username() if e.actor else None,
                    "client": e.client,
                    "step": e.step,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "reason": e.reason,
                    "payload": e.payload,
                }
                for e in page
            ]
        )


class InstanceCancel(APIView):
    @extend_schema(
        request=CancelSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Cancel (compensating what completed)",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        body = valid(CancelSerializer, request.data)
        done = services.instance_cancel(
            instance_id=instance.pk, actor=actor(request), reason=body["reason"]
        )
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceRetry(APIView):
    @extend_schema(
        request=None,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Retry the failed step of a failed instance or incident",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        done = services.instance_retry(instance_id=instance.pk, actor=actor(request))
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceSuspend(APIView):
    @extend_schema(
        request=ReasonSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Suspend: its runs and timers wait, results and messages are kept",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        body = valid(ReasonSerializer, request.data)
        done = services.instance_suspend(
            instance_id=instance.pk, reason=body["reason"], actor=actor(request)
        )
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceResume(APIView):
    @extend_schema(
        request=ReasonSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Resume a suspended instance (what it kept is applied, due timers fire)",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        body = valid(ReasonSerializer, request.data)
        done = services.instance_resume(
            instance_id=instance.pk, reason=body["reason"], actor=actor(request)
        )
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceMove(APIView):
    @extend_schema(
        request=MoveSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Move the flow from one step to another (back: redo; past a failed step)",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        body = valid(MoveSerializer, request.data)
        done = services.instance_move(
            instance_id=instance.pk, source=body["from"], target=body["to"],
            reason=body["reason"], actor=actor(request),
        )  # fmt: skip
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceVariables(APIView):
    @extend_schema(
        request=VariablesSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Operators: correct declared variables (conditions are checked at once)",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "instances:operate", instance.definition.key)
        body = valid(VariablesSerializer, request.data)
        done = services.instance_set_variables(
            instance_id=instance.pk, values=body["variables"], reason=body["reason"],
            actor=actor(request),
        )  # fmt: skip
        return Response(instance_data(visible_instance(request, done.pk)))


class InstanceMessage(APIView):
    @extend_schema(
        request=MessageSerializer,
        responses={200: InstanceSerializer, **ERRORS},
        summary="Deliver a named message to the instance's waits",
    )
    def post(self, request: Request, pk: int) -> Response:
        instance = visible_instance(request, pk)
        require_scope(request, "messages:send", instance.definition.key)
        body = valid(MessageSerializer, request.data)
        done = services.instance_send_message(
            instance_id=instance.pk,
            name=body["name"],
            payload=body["payload"],
            actor=actor(request),
        )
        return Response(instance_data(visible_instance(request, done.pk)))
