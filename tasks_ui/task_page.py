"""A task's page and what a person does there: decide, claim, release,
delegate, hand back, reassign, snooze and comment.

Every action goes through the same services as the API, the commands and the
email links, and so through the one policy check. A task the user may not see
answers 404; one they may see but not act on, 403 with the policy's reason.
Each action works as a plain form post (redirect back, message) and, under
htmx, answers the part of the page it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from orchestration import clock, disclosure, selectors, services
from orchestration.definitions.diagram import render_svg
from orchestration.definitions.validate import COMMENT_FIELD
from orchestration.engine.state import current_steps
from orchestration.exceptions import InvalidInput
from orchestration.models import HumanTask
from orchestration.services.attachments import allowed_types
from tasks_ui import task_context
from tasks_ui.forms import bound_fields, decision_data, errors_by_field
from tasks_ui.responses import back, person, refused, visible_task


def _comment_field(task: HumanTask) -> dict[str, Any]:
    """The decision's one comment box: the definition's `comment` form field
    when it has one (its label, help and required_for), else an optional one."""
    declared = next((f for f in task.form if f.get("name") == COMMENT_FIELD), None)
    return {"name": COMMENT_FIELD, "type": "textarea", **(declared or {}),
            "label_given": bool(declared and declared.get("label"))}  # fmt: skip


def _page_context(
    request: HttpRequest, task: HumanTask, *, errors: dict[str, list[str]] | None = None,
    posted: Any = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    user = request.user
    instance = task.instance
    spec = instance.version.spec
    refusal = permissions.decide_refusal(user, task)
    done = {s for s, _ in selectors.completed_steps(instance)}
    by_field = errors_by_field(errors or {}, "data")
    fields = [f for f in task.form if f.get("name") != COMMENT_FIELD] + [_comment_field(task)]
    bound = bound_fields(fields, posted or {}, by_field)
    return {
        "task": task,
        "instance": instance,
        "requester": task_context.requester(instance),
        "step_label": task_context.step_label(spec, task.step),
        "priority_word": task_context.priority_word(task.priority),
        "decisions": task_context.earlier_decisions(task),
        "leads": task_context.outcome_targets(spec, task),
        "variables": task_context.variables(
            instance,
            disclosure.shown(user, instance, instance.variables, where=disclosure.TASK_PAGE)[0],
        ),
        "removed": task_context.removed(instance),
        "fields": bound[:-1],
        "comment_field": bound[-1],
        "general_errors": [m for k in ("outcome", "data") for m in by_field.get(k, [])],
        "refusal": refusal if task.status == "open" else "",
        "can_decide": refusal is None,
        "can_claim": permissions.claim_refusal(user, task) is None and task.claimed_by_id is None,
        "can_release": task.claimed_by_id is not None
        and permissions.owner_refusal(user, task) is None
        and task.delegate_id is None,
        "can_move": task.status == "open" and permissions.owner_refusal(user, task) is None,
        "can_force": permissions.force_refusal(user, task) is None,
        "can_comment": permissions.comment_refusal(user, task) is None,
        "can_hand_back": task.status == "open"
        and permissions.hand_back_refusal(user, task) is None,
        "comments": task.comments.select_related("author"),
        "attachments": selectors.readable_attachments(user, instance),
        "attachment_types": ", ".join(allowed_types()),
        "attachment_limit": settings.ORCHESTRATION_ATTACHMENT_MAX_BYTES,
        "history": selectors.task_history(task),
        "diagram": render_svg(spec, highlight=current_steps(instance.state), done=done),
        **extra,
    }


@require_GET
@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_task(request, pk)
    return render(request, "tasks_ui/task.html", _page_context(request, task))


@require_POST
@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_task(request, pk)
    outcome = request.POST.get("outcome", "")
    fields = [f for f in task.form if f.get("name") != COMMENT_FIELD]
    data, errors = decision_data(fields, request.POST)
    comment = request.POST.get(COMMENT_FIELD, "").strip()
    try:
        if errors:
            raise InvalidInput({f"data.{k}": v for k, v in errors.items()})
        services.task_complete(task_id=task.pk, outcome=outcome, data=data, comment=comment,
                               actor=person(request))  # fmt: skip
    except InvalidInput as exc:
        # Stay on the form with the answers kept and each error by its field.
        context = _page_context(request, task, errors=dict(exc.errors), posted=request.POST)
        return render(request, "tasks_ui/task.html", context, status=400)
    except Exception as exc:
        return refused(request, exc, fallback=reverse("tasks_ui:task", args=[pk]))
    text = decided_text(outcome, task.title)
    if request.htmx and request.POST.get("from") == "row":  # type: ignore[attr-defined]
        return _row_notice(request, text)
    following = _next_in_case(request, task)
    if following is not None:
        # Chained execution: the case's next task for this person opens at once.
        messages.success(request, _("%(done)s. Next in this case: %(title)s")
                         % {"done": text, "title": following.title})  # fmt: skip
        return redirect(reverse("tasks_ui:task", args=[following.pk]))
    messages.success(request, text)
    return back(request, reverse("tasks_ui:inbox"))


def decided_text(outcome: str, title: str) -> str:
    """The notice after one's own decision: "You approved “Laptop”"."""
    if outcome == "approve":
        return _("You approved “%(title)s”") % {"title": title}
    if outcome == "reject":
        return _("You rejected “%(title)s”") % {"title": title}
    return _("You decided %(outcome)s on “%(title)s”") % {"outcome": outcome, "title": title}


def _next_in_case(request: HttpRequest, task: HumanTask) -> HumanTask | None:
    """The oldest open task of the same instance this person may decide now."""
    found: HumanTask | None = (
        HumanTask.objects.filter(permissions.tasks_decidable_q(request.user),
                                 instance_id=task.instance_id, status="open")
        .order_by("pk").first()
    )  # fmt: skip
    return found


def _row_notice(request: HttpRequest, text: str) -> HttpResponse:
    """An action from an inbox row: say it was done; the list refreshes itself."""
    response = render(request, "tasks_ui/partials/notice.html", {"level": "success", "text": text})
    response["HX-Trigger"] = "tasks-changed"
    return response


def _act(
    request: HttpRequest, pk: int, call: Callable[[HumanTask], Any], done: str
) -> HttpResponse:
    task = visible_task(request, pk)
    try:
        call(task)
    except Exception as exc:
        return refused(request, exc, fallback=reverse("tasks_ui:task", args=[pk]))
    if request.htmx and request.POST.get("from") == "row":  # type: ignore[attr-defined]
        return _row_notice(request, done % {"title": task.title})
    messages.success(request, done % {"title": task.title})
    return back(request, reverse("tasks_ui:task", args=[pk]))


def _person(username: str) -> Any:
    model = get_user_model()
    found = model.objects.filter(**{model.USERNAME_FIELD: username.strip()}, is_active=True)
    person = found.first()
    if person is None:
        raise InvalidInput(
            {"to": [_("no active user %(name)r") % {"name": username.strip()[:150]}]}
        )
    return person


@require_POST
@login_required
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda t: services.task_claim(task_id=t.pk, actor=person(request)),
                _("You claimed “%(title)s”"))  # fmt: skip


@require_POST
@login_required
def release(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda t: services.task_release(task_id=t.pk, actor=person(request)),
                _("You released “%(title)s”"))  # fmt: skip


@require_POST
@login_required
def delegate(request: HttpRequest, pk: int) -> HttpResponse:
    def call(task: HumanTask) -> Any:
        return services.task_delegate(
            task_id=task.pk,
            actor=person(request),
            to=_person(request.POST.get("to", "")),
            note=request.POST.get("note", ""),
        )

    return _act(request, pk, call, _("You delegated “%(title)s”"))


@require_POST
@login_required
def hand_back(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda t: services.task_hand_back(task_id=t.pk, actor=person(request)),
                _("You handed back “%(title)s”"))  # fmt: skip


@require_POST
@login_required
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    def call(task: HumanTask) -> Any:
        return services.task_reassign(
            task_id=task.pk,
            actor=person(request),
            to=_person(request.POST.get("to", "")),
        )

    return _act(request, pk, call, _("You reassigned “%(title)s”"))


@require_POST
@login_required
def ask_input(request: HttpRequest, pk: int) -> HttpResponse:
    def call(task: HumanTask) -> Any:
        return services.task_ask_input(
            task_id=task.pk, actor=person(request), to=_person(request.POST.get("to", "")),
            reason=request.POST.get("reason", ""),
        )  # fmt: skip

    return _act(request, pk, call, _("You asked for input on “%(title)s”"))


@require_POST
@login_required
def force(request: HttpRequest, pk: int) -> HttpResponse:
    def call(task: HumanTask) -> Any:
        return services.task_force_decide(
            task_id=task.pk, actor=person(request), outcome=request.POST.get("outcome", ""),
            reason=request.POST.get("reason", ""),
        )  # fmt: skip

    return _act(request, pk, call, _("You pushed through “%(title)s”"))


@require_POST
@login_required
def snooze(request: HttpRequest, pk: int) -> HttpResponse:
    def call(task: HumanTask) -> Any:
        raw = request.POST.get("until", "").strip()
        until = None
        if raw:
            try:
                until = datetime.fromisoformat(raw)
            except ValueError:
                raise InvalidInput({"until": [_("expected a date and time")]}) from None
            if until.tzinfo is None:  # a datetime-local field: the user's own zone
                until = timezone.make_aware(until, timezone.get_current_timezone())
        return services.task_snooze(task_id=task.pk, actor=person(request), until=until,
                                    now=clock.now())  # fmt: skip

    return _act(request, pk, call, _("You snoozed “%(title)s”"))


@require_POST
@login_required
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk,
        lambda t: services.task_comment(task_id=t.pk, actor=person(request),
                                        text=request.POST.get("text", "")),
        _("You commented on “%(title)s”"),
    )  # fmt: skip
