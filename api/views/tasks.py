"""Tasks: list, read, claim, release, delegate, complete, through the same
services and policy as the inbox (four-eyes, quorum and conflicts included)."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import User
from api.common import CursorPage, actor, etagged, require_scope, shown, valid
from api.serializers import (
    ERRORS,
    AskInputSerializer,
    CompleteSerializer,
    DelegateSerializer,
    ForceSerializer,
    TaskDetailSerializer,
    TaskSerializer,
)
from orchestration import clock, log_context, queues, services
from orchestration.models import HumanTask
from orchestration.replica import replica_reads
from orchestration.states import TaskStatus


def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def task_data(task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.pk,
        "instance": task.instance_id,
        "definition": task.instance.definition.key,
        "business_key": task.instance.business_key,
        "step": task.step,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "due_at": task.due_at,
        "created_at": task.created_at,
        "claimed_by": _name(task.claimed_by),
        "delegate": _name(task.delegate),
        "outcomes": list(task.outcomes),
        "outcome": task.outcome,
    }


def _detail(task: HumanTask, request: Request) -> dict[str, Any]:
    data, variables = shown(request, task.instance, task.data, task.instance.variables)
    return {
        **task_data(task),
        "form": list(task.form),
        "data": data,
        "variables": variables,
        "decided_by": _name(task.decided_by),
        "decided_at": task.decided_at,
    }


def _rows() -> Any:
    return HumanTask.objects.select_related(
        "instance__definition", "claimed_by", "delegate", "decided_by"
    )


def visible_task(request: Request, pk: int) -> HumanTask:
    """The task when the caller may see it; 404 whether it exists or not."""
    task = (
        _rows()
        .prefetch_related("exclusions")
        .filter(pk=pk)
        .filter(permissions.api_definitions_q(request.auth, "instance__definition__key"))
        .first()
    )
    if task is None or not permissions.can_see_task(request.user, task):
        raise Http404
    log_context.note(task=task.pk, instance=task.instance_id)
    return cast(HumanTask, task)


class TaskFilter(serializers.Serializer):  # type: ignore[type-arg]
    view = serializers.ChoiceField(
        choices=list(queues.VIEWS.items()), required=False, default="all"
    )
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    definition = serializers.SlugField(required=False, max_length=100)
    business_key = serializers.CharField(required=False, max_length=200)


class TaskCollection(GenericAPIView):  # type: ignore[type-arg]
    pagination_class = CursorPage
    serializer_class = TaskSerializer

    @extend_schema(
        parameters=[TaskFilter],
        responses={200: TaskSerializer(many=True), **ERRORS},
        summary="Tasks: mine, offered to me, or all I may see; newest first",
    )
    @method_decorator(replica_reads)
    def get(self, request: Request) -> Response:
        require_scope(request, "tasks:read")
        given = valid(TaskFilter, request.query_params)
        rows = _rows().filter(
            queues.view_q(request.user, given["view"], clock.now()),
            permissions.api_definitions_q(request.auth, "instance__definition__key"),
        )
        if "status" in given:
            rows = rows.filter(status=given["status"])
        if "definition" in given:
            rows = rows.filter(instance__definition__key=given["definition"])
        if "business_key" in given:
            rows = rows.filter(instance__business_key=given["business_key"])
        page = self.paginate_queryset(rows) or []
        return self.get_paginated_response([task_data(t) for t in page])


class TaskDetail(APIView):
    @extend_schema(
        responses={200: TaskDetailSerializer, 304: None, **ERRORS},
        summary="A task, its form and its instance's variables",
    )
    def get(self, request: Request, pk: int) -> Response:
        require_scope(request, "tasks:read")
        return etagged(request, _detail(visible_task(request, pk), request))


def actable_task(request: Request, pk: int) -> HumanTask:
    """The task for an action: visible (else 404) and of a definition the
    key may act on (else 403); the service then applies the policy's rules."""
    task = visible_task(request, pk)
    require_scope(request, "tasks:act", task.instance.definition.key)
    return task


def _acted(request: Request, pk: int) -> Response:
    return Response(_detail(visible_task(request, pk), request))


class TaskClaim(APIView):
    @extend_schema(
        request=None,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Claim a task offered to the caller",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        services.task_claim(task_id=task.pk, actor=actor(request))
        return _acted(request, pk)


class TaskRelease(APIView):
    @extend_schema(
        request=None,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Give a claimed task back to its queue",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        services.task_release(task_id=task.pk, actor=actor(request))
        return _acted(request, pk)


class TaskDelegate(APIView):
    @extend_schema(
        request=DelegateSerializer,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Delegate a task to another user, who decides for its owner",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        body = valid(DelegateSerializer, request.data)
        to = User.objects.filter(username=body["user"], is_active=True).first()
        if to is None:
            raise serializers.ValidationError({"user": [gettext("no active user by that name")]})
        services.task_delegate(task_id=task.pk, actor=actor(request), to=to, note=body["note"])
        return _acted(request, pk)


class TaskAskInput(APIView):
    @extend_schema(
        request=AskInputSerializer,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Operators: add someone to a task for their input, without handing it over",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        body = valid(AskInputSerializer, request.data)
        to = User.objects.filter(username=body["user"], is_active=True).first()
        if to is None:
            raise serializers.ValidationError({"user": [gettext("no active user by that name")]})
        services.task_ask_input(task_id=task.pk, actor=actor(request), to=to,
                                reason=body["reason"])  # fmt: skip
        return _acted(request, pk)


class TaskComplete(APIView):
    @extend_schema(
        request=CompleteSerializer,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Decide a task: outcome, form data and an optional comment",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        given = valid(CompleteSerializer, request.data)
        services.task_complete(
            task_id=task.pk,
            outcome=given["outcome"],
            data=given["data"],
            comment=given["comment"],
            actor=actor(request),
        )
        return _acted(request, pk)


class TaskForce(APIView):
    @extend_schema(
        request=ForceSerializer,
        responses={200: TaskDetailSerializer, **ERRORS},
        summary="Operators: push a task through with an outcome and a required reason",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = actable_task(request, pk)
        given = valid(ForceSerializer, request.data)
        services.task_force_decide(
            task_id=task.pk, actor=actor(request), outcome=given["outcome"],
            reason=given["reason"],
        )  # fmt: skip
        return _acted(request, pk)
