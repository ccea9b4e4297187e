"""External tasks: fetch-and-lock by topic, complete, fail, extend the lock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import actor, require_scope, valid
from api.serializers import ERRORS
from orchestration import clock
from orchestration.engine import external, sealing
from orchestration.models import StepRun
from orchestration.problems import problem_for

_WORKER = serializers.CharField(max_length=50, help_text="Names the worker; its locks are its own.")


def _allowed(request: Request, pk: int | None = None) -> None:
    """The key's scope and the account's role for external work; and, for one
    task, that it is an external task of a definition the key may touch (404)."""
    require_scope(request, "external-tasks:work")
    refusal = permissions.external_work_refusal(actor(request))
    if refusal is not None:
        raise PermissionDenied(refusal)
    if pk is not None:
        _visible(request, pk)


def _within(request: Request) -> Any:
    return permissions.api_definitions_q(request.auth, "instance__definition__key")


def _visible(request: Request, pk: int) -> None:
    """404 unless `pk` is an external task of a definition the key may touch."""
    if not StepRun.objects.exclude(topic="").filter(_within(request), pk=pk).exists():
        raise Http404


class FetchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    worker_id = _WORKER
    topics = serializers.ListField(
        child=serializers.CharField(max_length=100), min_length=1, max_length=50
    )
    max_tasks = serializers.IntegerField(min_value=1, max_value=external.MAX_TASKS, default=10)
    lock_duration = serializers.IntegerField(
        min_value=1,
        max_value=int(external.MAX_LOCK.total_seconds()),
        default=300,
        help_text="Seconds the tasks stay locked for this worker.",
    )


class LockedTaskSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    topic = serializers.CharField()
    step = serializers.CharField()
    attempt = serializers.IntegerField()
    instance = serializers.IntegerField()
    definition = serializers.CharField()
    business_key = serializers.CharField(allow_blank=True)
    variables = serializers.DictField()
    idempotency_key = serializers.CharField(
        help_text="The same for every attempt of this step: pass it to the systems you call."
    )
    lock_expires_at = serializers.DateTimeField()


class CompleteExternalSerializer(serializers.Serializer):  # type: ignore[type-arg]
    worker_id = _WORKER
    variables = serializers.DictField(required=False, default=dict)


class BatchItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    variables = serializers.DictField(required=False, default=dict)


class CompleteBatchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    worker_id = _WORKER
    tasks = serializers.ListField(
        child=BatchItemSerializer(), min_length=1, max_length=external.MAX_BATCH
    )


class BatchResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="succeeded, or the problem's code")
    detail = serializers.CharField(required=False)


class FailExternalSerializer(serializers.Serializer):  # type: ignore[type-arg]
    worker_id = _WORKER
    error = serializers.CharField(max_length=2000, help_text="What went wrong.")
    code = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    retryable = serializers.BooleanField(required=False, default=True)
    retry_in = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=7 * 24 * 3600,
        help_text="Seconds to wait at least before the next attempt.",
    )


class ExtendLockSerializer(serializers.Serializer):  # type: ignore[type-arg]
    worker_id = _WORKER
    lock_duration = serializers.IntegerField(
        min_value=1,
        max_value=int(external.MAX_LOCK.total_seconds()),
        help_text="Seconds from now.",
    )


class ExternalTaskStateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    status = serializers.CharField()
    lock_expires_at = serializers.DateTimeField(allow_null=True)


def _locked(run: StepRun) -> dict[str, Any]:
    instance = run.instance
    return {
        "id": run.pk,
        "topic": run.topic,
        "step": run.step,
        "attempt": run.attempt,
        "instance": instance.pk,
        "definition": instance.definition.key,
        "business_key": instance.business_key,
        # An entry of a for_each step sees its item under the step's `as` name.
        "variables": sealing.step_input(
            instance.variables, instance.state, run.step, run.execution
        ),
        "idempotency_key": run.idempotency_key,
        "lock_expires_at": run.lease_until,
    }


def _state(run: StepRun) -> dict[str, Any]:
    return {"id": run.pk, "status": run.status, "lock_expires_at": run.lease_until}


class FetchAndLock(APIView):
    @extend_schema(
        request=FetchSerializer,
        responses={200: LockedTaskSerializer(many=True), **ERRORS},
        summary="Lock work of these topics for this worker",
    )
    def post(self, request: Request) -> Response:
        _allowed(request)
        given = valid(FetchSerializer, request.data)
        runs = external.fetch_and_lock(
            worker_id=given["worker_id"],
            topics=given["topics"],
            max_tasks=given["max_tasks"],
            lock=timedelta(seconds=given["lock_duration"]),
            now=clock.now(),
            within=_within(request),
        )
        return Response([_locked(run) for run in runs])


class CompleteExternal(APIView):
    @extend_schema(
        request=CompleteExternalSerializer,
        responses={200: ExternalTaskStateSerializer, **ERRORS},
        summary="Complete a locked task with output variables",
    )
    def post(self, request: Request, pk: int) -> Response:
        _allowed(request, pk)
        body = valid(CompleteExternalSerializer, request.data)
        run = external.complete(
            run_id=pk,
            worker_id=body["worker_id"],
            variables=body["variables"],
            now=clock.now(),
        )
        return Response(_state(run))


class CompleteExternalBatch(APIView):
    @extend_schema(
        operation_id="v1_external_tasks_complete_many",
        request=CompleteBatchSerializer,
        responses={200: BatchResultSerializer(many=True), **ERRORS},
        summary="Complete many locked tasks in one request; each succeeds or fails alone",
    )
    def post(self, request: Request) -> Response:
        _allowed(request)
        given = valid(CompleteBatchSerializer, request.data)
        results = external.complete_many(
            worker_id=given["worker_id"],
            tasks=[(item["id"], item["variables"]) for item in given["tasks"]],
            now=clock.now(),
            within=_within(request),
        )
        answer = []
        for pk, result in results:
            if isinstance(result, StepRun):
                answer.append({"id": pk, "status": result.status})
                continue
            problem = problem_for(result)
            if problem is None:
                raise result
            answer.append({"id": pk, "status": problem.code, "detail": problem.text()})
        return Response(answer)


class FailExternal(APIView):
    @extend_schema(
        request=FailExternalSerializer,
        responses={200: ExternalTaskStateSerializer, **ERRORS},
        summary="Report a locked task failed (retried if retryable)",
    )
    def post(self, request: Request, pk: int) -> Response:
        _allowed(request, pk)
        given = valid(FailExternalSerializer, request.data)
        run = external.fail(
            run_id=pk,
            worker_id=given["worker_id"],
            message=given["error"],
            code=given["code"],
            retryable=given["retryable"],
            retry_in=given.get("retry_in"),
            now=clock.now(),
        )
        return Response(_state(run))


class ExtendLock(APIView):
    @extend_schema(
        request=ExtendLockSerializer,
        responses={200: ExternalTaskStateSerializer, **ERRORS},
        summary="Keep a task locked longer",
    )
    def post(self, request: Request, pk: int) -> Response:
        _allowed(request, pk)
        body = valid(ExtendLockSerializer, request.data)
        run = external.extend_lock(
            run_id=pk,
            worker_id=body["worker_id"],
            lock=timedelta(seconds=body["lock_duration"]),
            now=clock.now(),
        )
        return Response(_state(run))
