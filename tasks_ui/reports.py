"""The SLA report for operators, process admins and auditors: throughput per
day, durations, where instances wait (a heatmap on the diagram), escalations,
retries and failures, per definition and version over a window of days; the
same figures as CSV (and in the API, api/views/reports.py)."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts import permissions
from orchestration import clock, selectors
from orchestration.definitions.diagram import render_svg
from orchestration.models import ProcessVersion
from orchestration.replica import replica_reads
from orchestration.reports import live
from orchestration.reports.queries import Report, report, report_version
from tasks_ui.charts import day_bars


class ReportForm(forms.Form):
    version = forms.IntegerField(min_value=1, required=False, label=gettext_lazy("Version"))
    days = forms.IntegerField(min_value=1, max_value=366, required=False, initial=30,
                              label=gettext_lazy("Days"))  # fmt: skip
    stat = forms.ChoiceField(
        choices=[("p95", gettext_lazy("95th percentile")), ("p50", gettext_lazy("median"))],
        required=False, label=gettext_lazy("Colour by"),
    )  # fmt: skip
    compare = forms.IntegerField(min_value=1, required=False,
                                 label=gettext_lazy("Compare with version"))  # fmt: skip


def span(seconds: float | None) -> str:
    """A duration in a few characters: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "—"
    if seconds <= 0.1:  # the sketch's first bucket (reports/sketch.py)
        return _("under %(n)s s") % {"n": "0.1"}
    if seconds < 90:
        return _("%(n)s s") % {"n": f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"}
    if seconds < 90 * 60:
        return _("%(n)s min") % {"n": f"{seconds / 60:.0f}"}
    if seconds < 48 * 3600:
        return _("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}
    return _("%(n)s d") % {"n": f"{seconds / 86400:.1f}"}


def _version(key: str, number: int | None) -> ProcessVersion:
    found = report_version(key, number)
    if found is None:
        raise Http404(_("No such definition or version."))
    return found


def _heat(found: Report, stat: str) -> dict[str, tuple[float, str]]:
    values = {s.step: getattr(s, stat) for s in found.steps.values() if getattr(s, stat)}
    longest = max(values.values(), default=0.0) or 1.0
    return {step: (value / longest, f"{stat} {span(value)}") for step, value in values.items()}


def _panel(version: ProcessVersion, days: int, stat: str) -> dict[str, Any]:
    now = clock.now()
    found = report(version, until=now.date(), days=days)
    current = live.now_figures(version, now)
    steps = version.spec.get("steps") or {}
    expected = found.sla.steps if found.sla else {}

    def name(step: str) -> str:
        return str(steps.get(step, {}).get("name") or step)

    rows = [
        {"id": step, "name": name(step),
         "type": steps.get(step, {}).get("type", ""), "figures": figures,
         "p50": span(figures.p50), "p95": span(figures.p95),
         "overdue": current.overdue.get(step, 0),
         "expected": span(expected[step].total_seconds()) if step in expected else "",
         "over_now": current.over_sla.steps.get(step, 0),
         "escalations": sorted(figures.escalations.items(), key=lambda kv: int(kv[0] or 0))}
        for step, figures in sorted(found.steps.items())
    ]  # fmt: skip
    over = [
        {"instance": late.instance_id, "key": late.business_key,
         "where": name(late.step) if late.step else "", "since": late.since,
         "expected": span(late.expected.total_seconds()),
         "over": span(late.over(now).total_seconds())}
        for late in current.over_sla.listed
    ]  # fmt: skip
    diagram = render_svg(version.spec, heat=_heat(found, stat), taken=found.edges)
    return {
        "version": version, "report": found, "steps": rows,
        "incidents_open": current.incidents_open,
        "p50": span(found.p50), "p95": span(found.p95),
        "sla": found.sla, "over_sla": current.over_sla, "over": over,
        "expected": span(found.sla.process.total_seconds())
        if found.sla and found.sla.process else "",
        # render_svg escapes every user-written text it draws.
        "diagram": mark_safe(diagram),  # noqa: S308
        "chart": day_bars(found.days, _("Started, completed and failed per day")),
    }  # fmt: skip


@require_GET
@login_required
@replica_reads
def report_list(request: HttpRequest) -> HttpResponse:
    if not permissions.can_read_reports(request.user):
        raise PermissionDenied
    return render(request, "tasks_ui/reports.html", {"versions": selectors.published_versions()})


@require_GET
@login_required
@replica_reads
def report_page(request: HttpRequest, key: str) -> HttpResponse:
    if not permissions.can_read_reports(request.user):
        raise PermissionDenied
    form = ReportForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "tasks_ui/report.html", {"form": form, "key": key}, status=400)
    given = form.cleaned_data if request.GET else {}
    days, stat = given.get("days") or 30, given.get("stat") or "p95"
    version = _version(key, given.get("version"))
    if not request.GET:  # the form shows what the page shows
        form = ReportForm(initial={"version": version.number, "days": days, "stat": stat})
    if request.GET.get("format") == "csv":
        return _csv(report(version, until=clock.now().date(), days=days))
    panels = [_panel(version, days, stat)]
    if given.get("compare"):
        panels.append(_panel(_version(key, given["compare"]), days, stat))
    others = ProcessVersion.objects.filter(definition=version.definition).exclude(status="draft")
    return render(request, "tasks_ui/report.html", {
        "form": form, "key": key, "definition": version.definition, "panels": panels,
        "days": days, "stat": stat, "versions": others.order_by("-number"),
        "query": request.GET.urlencode(),
    })  # fmt: skip


def _csv(found: Report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{found.version.definition.key}-v{found.version.number}-{found.until}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    out = csv.writer(response)
    # Column names stay English: scripts read them (docs/ui.md).
    out.writerow(["section", "day_or_step", "started", "completed", "failed", "cancelled",
                  "left", "p50_s", "p95_s", "retries", "failures", "escalations",
                  "late", "expected_s"])  # fmt: skip
    for day in found.days:
        out.writerow(["day", day.day.isoformat(), day.started, day.completed, day.failed,
                      day.cancelled, "", "", "", "", "", "", "", ""])  # fmt: skip
    for step in found.steps.values():
        levels = " ".join(f"{level}:{n}" for level, n in sorted(step.escalations.items()))
        out.writerow(["step", step.step, "", "", "", "", step.left, _num(step.p50),
                      _num(step.p95), step.retries, step.failures, levels, step.late,
                      _num(found.expected_s(step.step))])  # fmt: skip
    process = found.sla.process if found.sla else None
    out.writerow(["total", "", found.started, found.completed, found.failed, found.cancelled,
                  "", _num(found.p50), _num(found.p95), "", "", "", found.late,
                  _num(process.total_seconds() if process else None)])  # fmt: skip
    return response


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
