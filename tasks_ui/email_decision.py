"""The page behind an email decision link (see orchestration/side_effects/decision_links.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.timezones import local_text
from orchestration import selectors, services
from orchestration.models import HumanTask
from orchestration.problems import problem_for
from orchestration.side_effects import decision_links


@require_http_methods(["GET", "POST"])
def decide_from_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the link would do, and a button. POST: do it, once."""
    try:
        link = decision_links.read(token)
        task = HumanTask.objects.select_related("instance__definition").get(pk=link.task)
        user = get_user_model().objects.get(pk=link.user, is_active=True)
    except decision_links.LinkRefused as exc:
        return _refused(request, str(exc))
    except (HumanTask.DoesNotExist, get_user_model().DoesNotExist):
        return _refused(request, _("This link no longer leads anywhere."))
    if selectors.link_spent(task, user.pk):
        return _refused(request, _("This link has been used, or the task is already decided."))
    if request.method == "GET":
        return render(
            request, "tasks_ui/email_decision.html",
            {
                "task": task, "outcome": link.outcome, "who": user, "token": token,
                "due": local_text(task.due_at, user.timezone) if task.due_at else "",
            },
        )  # fmt: skip
    try:
        services.task_complete(task_id=task.pk, outcome=link.outcome, data={}, actor=user)
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        return _refused(request, problem.text(), status=problem.status)
    return render(
        request, "tasks_ui/email_decision_done.html", {"task": task, "outcome": link.outcome}
    )


def _refused(request: HttpRequest, why: str, *, status: int = 400) -> HttpResponse:
    return render(request, "tasks_ui/email_decision_refused.html", {"why": why}, status=status)
