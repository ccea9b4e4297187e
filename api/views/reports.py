"""The SLA report's figures: the numbers the Reports page shows."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import require_scope, valid
from api.serializers import ERRORS
from orchestration import clock
from orchestration.reports import live
from orchestration.reports.queries import report, report_version


class ReportQuery(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="Default: the newest that is not a draft."
    )
    days = serializers.IntegerField(
        min_value=1, max_value=366, required=False, default=30,
        help_text="The window: this many days up to today (UTC).",
    )  # fmt: skip


class ReportDaySerializer(serializers.Serializer):  # type: ignore[type-arg]
    day = serializers.DateField()
    started = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class ReportStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    step = serializers.CharField()
    left = serializers.IntegerField(help_text="Visits of the step that ended in the window.")
    p50 = serializers.FloatField(allow_null=True, help_text="Seconds spent in the step, median.")
    p95 = serializers.FloatField(allow_null=True, help_text="... 95th percentile.")
    retries = serializers.IntegerField()
    failures = serializers.IntegerField()
    escalations = serializers.DictField(
        child=serializers.IntegerField(), help_text="Escalation level -> times it fired."
    )
    overdue_now = serializers.IntegerField(help_text="Open tasks at the step past their due time.")


class ReportEdgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    from_step = serializers.CharField(help_text='The step left ("" for the start).')
    to_step = serializers.CharField()
    taken = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    definition = serializers.CharField()
    version = serializers.IntegerField()
    since = serializers.DateField()
    until = serializers.DateField()
    started = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    incidents = serializers.IntegerField(help_text="Times instances stopped in an incident.")
    incidents_open = serializers.IntegerField()
    duration_p50_s = serializers.FloatField(allow_null=True)
    duration_p95_s = serializers.FloatField(allow_null=True)
    days = ReportDaySerializer(many=True)
    steps = ReportStepSerializer(many=True)
    edges = ReportEdgeSerializer(many=True)


class ReportDetail(APIView):
    @extend_schema(
        parameters=[ReportQuery],
        responses={200: ReportSerializer, **ERRORS},
        summary="A definition's SLA report: throughput per day, durations, time in each step",
        description="For process admins, operators and auditors (scope instances:read). Days"
        " are UTC days; percentiles are within 6 % of the exact ones (docs/operations.md).",
    )  # fmt: skip
    def get(self, request: Request, key: str) -> Response:
        require_scope(request, "instances:read", key)
        if not permissions.can_read_reports(request.user):
            raise PermissionDenied(permissions.report_refusal(request.user))
        given = valid(ReportQuery, request.query_params)
        version = report_version(key, given.get("version"))
        if version is None:
            raise Http404
        found = report(version, until=clock.now().date(), days=given["days"])
        overdue = live.overdue_by_step(version, clock.now())
        figures = found.figures()
        figures["incidents_open"] = live.incidents_open(version)
        figures["edges"] = [{"from_step": e["from"], "to_step": e["to"], "taken": e["taken"]}
                            for e in figures["edges"]]  # fmt: skip
        for step in figures["steps"]:
            step["overdue_now"] = overdue.get(step["step"], 0)
        return Response(ReportSerializer(figures).data)
