"""How the inbox answers refusals and errors: one styled page (or, for htmx, a
notice in place), with the status and message of the one error map."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from orchestration import log_context
from orchestration.models import HumanTask
from orchestration.problems import problem_for


def person(request: HttpRequest) -> User:
    """The signed-in user of a login_required view."""
    user = request.user
    assert isinstance(user, User), "login_required lets only signed-in users through"
    return user


def visible_task(request: HttpRequest, pk: int) -> HumanTask:
    """The task, when the user may see it; 404 otherwise (whether it exists
    or not, so ids cannot be probed)."""
    # Its exclusions are read once here (its candidates are in its row): the
    # policy asks about them for every button the page shows.
    task = (
        HumanTask.objects.select_related("instance__definition", "instance__version")
        .prefetch_related("exclusions")
        .filter(pk=pk)
        .first()
    )
    if task is None or not permissions.can_see_task(request.user, task):
        raise Http404(_("No such task, or not one you may see."))
    log_context.note(task=task.pk, instance=task.instance_id)
    return task


def back(request: HttpRequest, fallback: str) -> HttpResponse:
    """After a plain form post: back to where the form was (same site only)."""
    target = request.POST.get("next") or request.headers.get("Referer") or ""
    if (
        not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        or urlsplit(target).path == request.path
    ):  # e.g. a form page re-shown after errors
        target = fallback
    return redirect(target)


def refused(request: HttpRequest, exc: BaseException, *, fallback: str) -> HttpResponse:
    """A domain error as the user sees it: a notice in place for htmx, a
    message after the redirect for a plain post. Anything the error map does
    not know is a bug and propagates (a 500)."""
    problem = problem_for(exc)
    if problem is None:
        raise exc
    if request.htmx:  # type: ignore[attr-defined]
        response = render(
            request, "tasks_ui/partials/notice.html",
            {"level": "error", "text": problem.text()}, status=problem.status,
        )  # fmt: skip
        response.styled = True  # type: ignore[attr-defined]  # our own answer: keep it
        return response
    messages.error(request, problem.text())
    return back(request, fallback)


def error_page(request: HttpRequest, status: int, text: str) -> HttpResponse:
    response = render(request, "error.html", {"status": status, "text": text}, status=status)
    response.styled = True  # type: ignore[attr-defined]
    return response
