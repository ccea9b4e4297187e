from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from accounts import permissions
from orchestration.models import HumanTask
from orchestration.states import TaskStatus


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The front door is where the person's work is: the inbox for whoever has
    tasks to act on, the instances for operators, the audit log for auditors
    (docs/ui.md)."""
    user = request.user
    if permissions.reads_only(user):
        return redirect("tasks_ui:audit")
    if permissions.can_operate(user):
        open_work = HumanTask.objects.filter(
            permissions.tasks_decidable_q(user), status=TaskStatus.OPEN
        )
        if not open_work.exists():
            return redirect("tasks_ui:instances")
    return redirect("tasks_ui:inbox")
