"""The SLA report's figures: the numbers the Reports page shows."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import require_scope, valid
from api.serializers import ERRORS
from orchestration import clock
from orchestration.replica import replica_reads
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
    late = serializers.IntegerField(
        help_text="Visits that left the step after its expected duration (sla.steps)."
    )
    expected_s = serializers.FloatField(
        allow_null=True, help_text="The step's expected duration in seconds (sla.steps), if set."
    )
    over_sla_now = serializers.IntegerField(
        help_text="Live instances in the step longer than its expected duration."
    )


class ReportEdgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    from_step = serializers.CharField(help_text='The step left ("" for the start).')
    to_step = serializers.CharField()
    taken = serializers.IntegerField()


class ReportSlaSerializer(serializers.Serializer):  # type: ignore[type-arg]
    process_s = serializers.FloatField(
        allow_null=True, help_text="Expected duration of the whole process (sla.process), seconds."
    )
    steps = serializers.DictField(
        child=serializers.FloatField(), help_text="Step -> expected seconds (sla.steps)."
    )


class ReportLateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    instance = serializers.IntegerField()
    business_key = serializers.CharField()
    step = serializers.CharField(help_text='The step it is in for too long ("": the process).')
    since = serializers.DateTimeField(help_text="When it started or entered the step.")
    expected_s = serializers.FloatField()
    over_s = serializers.FloatField(help_text="How far past the expected duration, seconds.")


class ReportOverSlaSerializer(serializers.Serializer):  # type: ignore[type-arg]
    instances = serializers.IntegerField(help_text="Live instances past sla.process.")
    steps = serializers.DictField(
        child=serializers.IntegerField(), help_text="Step -> live instances past its sla.steps."
    )
    listed = ReportLateSerializer(many=True, help_text="The 50 furthest over, furthest first.")


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
    late = serializers.IntegerField(
        help_text="Instances that ended (not cancelled) after sla.process."
    )
    sla = ReportSlaSerializer(allow_null=True, help_text="The version's `sla`, if it sets one.")
    over_sla = ReportOverSlaSerializer(help_text="Live instances over the `sla` now.")
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
    @method_decorator(replica_reads)
    def get(self, request: Request, key: str) -> Response:
        require_scope(request, "instances:read", key)
        if not permissions.can_read_reports(request.user):
            raise PermissionDenied(permissions.report_refusal(request.user))
        given = valid(ReportQuery, request.query_params)
        version = report_version(key, given.get("version"))
        if version is None:
            raise Http404
        now = clock.now()
        found = report(version, until=now.date(), days=given["days"])
        current = live.now_figures(version, now)
        over = current.over_sla
        figures = found.figures()
        figures["incidents_open"] = current.incidents_open
        figures["edges"] = [{"from_step": e["from"], "to_step": e["to"], "taken": e["taken"]}
                            for e in figures["edges"]]  # fmt: skip
        for step in figures["steps"]:
            step["overdue_now"] = current.overdue.get(step["step"], 0)
            step["over_sla_now"] = over.steps.get(step["step"], 0)
        figures["over_sla"] = {
            "instances": over.instances, "steps": over.steps,
            "listed": [
                {"instance": late.instance_id, "business_key": late.business_key,
                 "step": late.step, "since": late.since,
                 "expected_s": late.expected.total_seconds(),
                 "over_s": round(late.over(now).total_seconds(), 3)}
                for late in over.listed
            ],
        }  # fmt: skip
        return Response(ReportSerializer(figures).data)
