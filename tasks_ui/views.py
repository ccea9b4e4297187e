from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import permissions
from orchestration.selectors import definition_list_published


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Landing page: the published processes, and where to go next."""
    return render(
        request,
        "tasks_ui/home.html",
        {
            "definitions": definition_list_published(),
            "can_edit_definitions": permissions.can_edit_draft(request.user),
        },
    )
