"""Instances in the browser: the operators' list (every instance; requesters
see the ones they started), an instance's page, and retry / cancel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from orchestration import disclosure, selectors, services
from orchestration.definitions.diagram import render_svg
from orchestration.engine.state import awaited as state_awaited
from orchestration.engine.state import current_steps
from orchestration.engine.versions import definition_of
from orchestration.exceptions import InvalidInput
from orchestration.models import HumanTask, ProcessDefinition, ProcessInstance, StepRun
from orchestration.replica import replica_reads
from orchestration.states import ENDED, RETRYABLE, SUSPENDABLE, InstanceStatus
from tasks_ui import task_context
from tasks_ui.responses import back, person, refused

PAGE_SIZE = 50


class InstanceFilterForm(forms.Form):
    definition = forms.ChoiceField(choices=[], required=False, label=gettext_lazy("Process"))
    version = forms.IntegerField(min_value=1, required=False)
    status = forms.ChoiceField(
        choices=[("", gettext_lazy("Any status")), *InstanceStatus.choices],
        required=False,
        label=gettext_lazy("Status"),
    )
    started_by = forms.CharField(max_length=150, required=False, label="Started by (username)")
    started_after = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    started_before = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(max_length=200, required=False, label=gettext_lazy("Business key"))
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["definition"].choices = [  # type: ignore[attr-defined]
            ("", _("Any process")),
            *ProcessDefinition.objects.order_by("name").values_list("key", "name"),
        ]


def _day_start(day: Any) -> Any:
    from datetime import datetime, time

    from django.utils import timezone

    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


@require_GET
@login_required
@replica_reads
def instance_list(request: HttpRequest) -> HttpResponse:
    form = InstanceFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    data = form.cleaned_data if request.GET and valid else {}
    rows = selectors.instance_list(
        definition=data.get("definition") or "",
        version=data.get("version"),
        status=data.get("status") or "",
        started_by=data.get("started_by") or "",
        started_after=_day_start(data.get("started_after")),
        started_before=_day_start(data.get("started_before")),
        search=data.get("q") or "",
    ).filter(permissions.instances_visible_q(request.user))
    page = Paginator(rows, PAGE_SIZE).get_page(data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "tasks_ui/instances.html",
        {"form": form, "page": page, "query": query.urlencode(),
         "can_operate": permissions.can_operate(request.user)},
        status=200 if valid else 400,
    )  # fmt: skip


def _visible(request: HttpRequest, pk: int) -> ProcessInstance:
    instance = (
        ProcessInstance.objects.select_related("definition", "version", "started_by")
        .filter(pk=pk)
        .first()
    )
    if instance is None or not permissions.can_see_instance(request.user, instance):
        raise Http404(_("No such instance, or not one you may see."))
    return instance


@require_GET
@login_required
def instance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    import json

    instance = _visible(request, pk)
    (shown,) = disclosure.shown(
        request.user, instance, instance.variables, where=disclosure.INSTANCE_PAGE
    )
    entered = selectors.completed_steps(instance)
    current = current_steps(instance.state)
    can_operate = permissions.can_operate(request.user)
    awaited = {name for tok in (instance.state or {}).get("tokens", {}).values()
               for name in state_awaited(tok)}  # fmt: skip
    actions = (instance.version.spec.get("actions") or []) if can_operate else (
        permissions.starter_actions(request.user, instance))  # fmt: skip
    return render(
        request, "tasks_ui/instance.html",
        {
            "instance": instance,
            "moving": _refresh_seconds(instance),
            "timers": _timers(instance),
            "attachments": selectors.readable_attachments(request.user, instance),
            "variables": task_context.variables(instance, shown),
            "removed": task_context.removed(instance),
            "raw_variables": json.dumps(shown, indent=2, default=str),
            "runs": StepRun.objects.filter(instance=instance).order_by("pk"),
            "tasks": HumanTask.objects.filter(instance=instance).select_related("decided_by"),
            "diagram": render_svg(
                instance.version.spec, highlight=current, done={s for s, _ in entered}
            ),
            "actions": [a for a in actions if a["message"] in awaited],
            "can_suspend": can_operate and instance.status in SUSPENDABLE,
            "can_resume": can_operate and instance.status == InstanceStatus.SUSPENDED,
            "move_from": sorted(current) if can_operate and instance.status not in ENDED
            and instance.status != InstanceStatus.SUSPENDED else [],
            "move_to": list(definition_of(instance.version).steps),
            "can_retry": can_operate and instance.status in RETRYABLE,
            "can_cancel": can_operate and instance.status not in ENDED,
        },
    )  # fmt: skip


def _timers(instance: ProcessInstance) -> list[dict[str, Any]]:
    spec = instance.version.spec
    return [{**t, "step": task_context.step_label(spec, t["step"]) if t["step"] else ""}
            for t in selectors.pending_timers(instance)]  # fmt: skip


def _refresh_seconds(instance: ProcessInstance) -> int:
    """How often the page refreshes itself: often while steps run, now and then
    while it waits (someone may decide), never once it has ended."""
    if instance.status in ENDED:
        return 0
    busy = {InstanceStatus.RUNNING, InstanceStatus.COMPENSATING}
    return 2 if instance.status in busy else 15


def _operate(request: HttpRequest, pk: int, service: Any, done: str) -> HttpResponse:
    """An operator's action on an instance, through its service and the policy."""
    instance = _visible(request, pk)
    here = reverse("tasks_ui:instance", args=[pk])
    try:
        service(instance_id=instance.pk, actor=person(request))
    except Exception as exc:
        return refused(request, exc, fallback=here)
    messages.success(request, _("Instance %(id)s: %(done)s.") % {"id": pk, "done": done})
    return back(request, here)


class InterventionForm(forms.Form):
    """What an operator's intervention says: why, and for a move, where."""

    reason = forms.CharField(max_length=1000, label=gettext_lazy("Reason"))
    source = forms.CharField(max_length=100, required=False)
    target = forms.CharField(max_length=100, required=False)


def _intervene(request: HttpRequest, pk: int, act: Any, done: Any) -> HttpResponse:
    instance = _visible(request, pk)
    here = reverse("tasks_ui:instance", args=[pk])
    form = InterventionForm(request.POST)
    try:
        if not form.is_valid():
            errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
            raise InvalidInput(errors)
        act(instance, form.cleaned_data)
    except Exception as exc:
        return refused(request, exc, fallback=here)
    messages.success(request, _("Instance %(id)s: %(done)s.") % {"id": pk, "done": done})
    return back(request, here)


def _with_reason(service: Any, done: Any) -> Any:
    """A view for an intervention that takes only a reason (suspend, resume)."""

    @require_POST
    @login_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        def act(instance: ProcessInstance, data: dict[str, Any]) -> None:
            service(instance_id=instance.pk, reason=data["reason"], actor=person(request))

        return _intervene(request, pk, act, done)

    return view


instance_suspend = _with_reason(services.instance_suspend, gettext_lazy("suspended"))
instance_resume = _with_reason(services.instance_resume, gettext_lazy("resumed"))


@require_POST
@login_required
def instance_move(request: HttpRequest, pk: int) -> HttpResponse:
    def act(instance: ProcessInstance, data: dict[str, Any]) -> None:
        services.instance_move(
            instance_id=instance.pk, source=data["source"], target=data["target"],
            reason=data["reason"], actor=person(request),
        )  # fmt: skip

    return _intervene(request, pk, act, _("moved"))


class ActionForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Reason (optional)")


@require_POST
@login_required
def instance_send(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """One of the process's `actions` (e.g. the requester withdraws the
    request): the message goes to the instance with who sent it and why."""
    instance = _visible(request, pk)
    here = reverse("tasks_ui:instance", args=[pk])
    form = ActionForm(request.POST)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        return refused(request, InvalidInput(errors), fallback=here)
    reason = form.cleaned_data["reason"]
    payload = {"by": request.user.get_username(), **({"reason": reason} if reason else {})}
    try:
        services.instance_send_message(
            instance_id=instance.pk, name=name, payload=payload, actor=person(request)
        )
    except Exception as exc:
        return refused(request, exc, fallback=here)
    label = next((a["label"] for a in instance.version.spec.get("actions") or []
                  if a["message"] == name), name)  # fmt: skip
    messages.success(request, _("Instance %(id)s: %(label)s: done.") % {"id": pk, "label": label})
    return back(request, here)


@require_POST
@login_required
def instance_retry(request: HttpRequest, pk: int) -> HttpResponse:
    return _operate(request, pk, services.instance_retry, _("retry requested"))


@require_POST
@login_required
def instance_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _operate(request, pk, services.instance_cancel, _("cancelled"))
