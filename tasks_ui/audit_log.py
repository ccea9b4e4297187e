"""The audit log for auditors: filter by actor, object, verb and time; export
as CSV, streamed (constant memory whatever the number of rows)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from itertools import islice
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts import permissions
from orchestration.audit.chain import seals_of
from orchestration.models import ProcessEvent

PAGE_SIZE = 100


class AuditFilterForm(forms.Form):
    actor = forms.CharField(max_length=150, required=False, label=_("Actor (username, or system)"))
    instance = forms.IntegerField(min_value=1, required=False, label=_("Instance id"))
    definition = forms.SlugField(max_length=100, required=False, label=_("Definition key"))
    verb = forms.CharField(
        max_length=64, required=False, label=_("Verb (e.g. task.completed, task.)")
    )
    since = forms.DateField(
        required=False, label=_("Since"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label=_("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    before = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


def _day(day: Any, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    moment = timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
    return moment + timedelta(days=1) if end else moment


def _rows(data: dict[str, Any]) -> QuerySet[ProcessEvent]:
    rows = ProcessEvent.objects.select_related("actor", "definition", "instance")
    actor = (data.get("actor") or "").strip()
    if actor == "system":
        rows = rows.filter(actor__isnull=True, client="")
    elif actor:
        rows = rows.filter(Q(actor__username=actor) | Q(client=actor))
    if data.get("instance"):
        rows = rows.filter(instance_id=data["instance"])
    if data.get("definition"):
        rows = rows.filter(definition__key=data["definition"])
    verb = (data.get("verb") or "").strip()
    if verb.endswith("."):
        rows = rows.filter(kind__startswith=verb)
    elif verb:
        rows = rows.filter(kind=verb)
    if data.get("since"):
        rows = rows.filter(created_at__gte=_day(data["since"]))
    if data.get("until"):
        rows = rows.filter(created_at__lt=_day(data["until"], end=True))
    return rows.order_by("-pk")


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[ProcessEvent] | None]:
    if not permissions.can_read_audit(request.user):
        raise Http404(_("No such page."))  # not even its existence, for anyone else
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return form, None
    return form, _rows(form.cleaned_data if request.GET else {})


@require_GET
@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form, rows = _filtered(request)
    if rows is None:
        return render(request, "tasks_ui/audit.html", {"form": form, "events": []}, status=400)
    before = form.cleaned_data.get("before") if request.GET else None
    if before:
        rows = rows.filter(pk__lt=before)
    events = list(rows[: PAGE_SIZE + 1])
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    sealed_in = seals_of(event.pk for event in events)
    for event in events:
        event.sealed_in = sealed_in.get(event.pk)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request, "tasks_ui/audit.html",
        {"form": form, "events": events, "query": query.urlencode(),
         "next_before": events[-1].pk if more else None},
    )  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


COLUMNS = [
    "id", "time", "actor", "client", "acting_for", "verb", "definition", "instance", "step",
    "before", "after", "reason", "request_id", "ip", "seal_seq", "payload",
]  # fmt: skip


def _csv_lines(rows: QuerySet[ProcessEvent]) -> Iterator[str]:

    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    values = rows.values_list(
        "pk", "created_at", "actor__username", "client", "kind", "definition__key", "instance_id",
        "step", "from_status", "to_status", "reason", "request_id", "ip", "payload",
    )  # fmt: skip
    stream = values.iterator(chunk_size=2000)
    while chunk := tuple(islice(stream, 2000)):
        yield from _csv_chunk(writer, chunk)


def _csv_chunk(writer: Any, chunk: tuple[tuple[Any, ...], ...]) -> Iterator[str]:
    sealed_in = seals_of(row[0] for row in chunk)
    for (pk, at, actor, client, kind, key, instance, step, before, after, reason, rid, ip,
         payload) in chunk:  # fmt: skip
        seq = sealed_in.get(pk)
        acting_for = (payload or {}).get("acting_for", "") if isinstance(payload, dict) else ""
        yield writer.writerow([_cell(value) for value in (
            pk, at.isoformat(), actor or ("" if client else "system"), client, acting_for, kind,
            key or "", instance or "", step, before, after, reason, rid, ip or "",
            seq or "", json.dumps(payload, sort_keys=True, default=str),
        )])  # fmt: skip


def _cell(value: object) -> object:
    """No cell starts a formula when the file is opened in a spreadsheet: every
    text cell, whoever chose its content (a username, an API key's name, a
    step id, a reason). Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


@require_GET
@login_required
def audit_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, rows = _filtered(request)
    if rows is None:
        return render(request, "tasks_ui/audit.html", {"form": form, "events": []}, status=400)
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
