"""The approvers' inbox: tabs, filters, keyset pages, live refresh and bulk actions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from orchestration import clock, queues, services
from orchestration.models import HumanTask, ProcessDefinition
from orchestration.problems import problem_for
from orchestration.replica import replica_reads
from orchestration.side_effects.decision_links import outcomes_without_input
from orchestration.states import TaskStatus
from tasks_ui.forms import InboxFilterForm, SavedFilterForm
from tasks_ui.models import SavedFilter
from tasks_ui.responses import back, error_page, person

PAGE_SIZE = 25
# Without a chosen tab, the inbox opens the first of these that holds tasks.
LANDING = ("mine", "group", "delegated", "overdue")
# A bulk action acts on at most this many tasks (one request, one budget).
BULK_LIMIT = 100


def _definitions() -> list[tuple[str, str]]:
    return list(ProcessDefinition.objects.order_by("name").values_list("key", "name"))


def _rows(tasks: list[HumanTask], tab: str, user: Any) -> list[dict[str, Any]]:
    """What each row shows and offers, from the row alone (no query per row)."""
    acting = tab != "done"
    # One reverse() for all rows: the actions sit under the task's own URL.
    pattern = reverse("tasks_ui:task", args=[0]).removesuffix("0/")
    return [
        {
            "task": task,
            "url": f"{pattern}{task.pk}/",
            "outcomes": outcomes_without_input(task) if acting else [],
            "can_claim": acting and tab == "group",
            "can_release": acting and task.claimed_by_id == user.pk,
        }
        for task in tasks
    ]


def _list_context(request: HttpRequest, query: QueryDict) -> dict[str, Any] | HttpResponse:
    """The list for the query string: its context, or a 400 answer for bad input."""
    form = InboxFilterForm(query or None, definitions=_definitions())
    if query and not form.is_valid():
        return render(request, "tasks_ui/inbox.html", _empty(request, form), status=400)
    params = dict(form.cleaned_data) if query else {}
    now = clock.now()
    counts = queues.tab_counts(request.user, now=now)
    if not params.get("tab"):
        # Land on work: the first list that holds any (docs/ui.md).
        params["tab"] = next((t for t in LANDING if counts[t]), "mine")
    chosen = queues.filter_from(params)
    query = query.copy()
    query["tab"] = chosen.tab  # the live refresh and the pages keep the landing tab
    try:
        tasks, next_cursor = queues.task_page(
            request.user, chosen, now=now, after=params.get("after", ""), size=PAGE_SIZE
        )
    except queues.BadCursor as exc:
        return error_page(request, 400, str(exc))
    return {
        "form": form,
        "chosen": chosen,
        "rows": _rows(tasks, chosen.tab, request.user),
        "tabs": [
            (key, label, _count_text(counts[key]), counts[key])
            for key, label in queues.TABS.items()
        ],
        "next_query": _with(query, after=next_cursor) if next_cursor else "",
        "first_query": _with(query, after="") if params.get("after") else None,
        "query": query.urlencode(),
        "filtered": any(params.get(k) for k in ("definition", "due", "priority", "q", "snoozed")),
        "list_query": _with(query, after=""),
        "version": queues.latest_change(),
        "poll_seconds": max(1, settings.ORCHESTRATION_INBOX_POLL_SECONDS),
        "now": now,
    }


@require_GET
@login_required
@replica_reads
def inbox(request: HttpRequest) -> HttpResponse:
    context = _list_context(request, request.GET)
    if isinstance(context, HttpResponse):
        return context
    context["saved"] = SavedFilter.objects.filter(user=person(request))
    context["save_form"] = SavedFilterForm()
    return render(request, "tasks_ui/inbox.html", context)


def _count_text(count: int) -> str:
    return f"{queues.COUNT_CAP - 1}+" if count >= queues.COUNT_CAP else str(count)


def _empty(request: HttpRequest, form: InboxFilterForm) -> dict[str, Any]:
    return {"form": form, "rows": [], "tabs": [], "chosen": queues.TaskFilter(),
            "saved": SavedFilter.objects.filter(user=person(request)),
            "save_form": SavedFilterForm(), "invalid": True}  # fmt: skip


def _with(query: QueryDict, **changes: str) -> str:
    copy = query.copy()
    for name, value in changes.items():
        if value:
            copy[name] = value
        else:
            copy.pop(name, None)
    return copy.urlencode()


@require_GET
@login_required
@replica_reads
def inbox_changes(request: HttpRequest) -> HttpResponse:
    """The live check htmx polls: 204 (nothing to do) while nothing changed
    since `since`; otherwise the list again, with a notice for the rows shown
    before that are no longer in it (taken by someone else, or closed)."""
    since = request.GET.get("since", "")
    if since.isdigit() and queues.latest_change() <= int(since):
        return HttpResponse(status=204)
    shown = {int(pk) for pk in request.GET.getlist("shown") if pk.isdigit()}
    query = request.GET.copy()
    for name in ("since", "shown"):
        query.pop(name, None)
    context = _list_context(request, query)
    if isinstance(context, HttpResponse):
        return context
    gone = shown - {row["task"].pk for row in context["rows"]}
    context["gone"] = _gone_texts(person(request), gone)
    context["oob"] = True  # the tab counts refresh with the list
    return render(request, "tasks_ui/partials/task_list.html", context)


def _gone_texts(user: Any, gone: set[int]) -> list[str]:
    """What happened to rows that left the list, said from the reader's side.
    Their own actions are left out: the action's notice said it already."""
    texts = []
    rows = (
        HumanTask.objects.filter(pk__in=sorted(gone)[:PAGE_SIZE])
        .select_related("claimed_by", "decided_by")
        .order_by("pk")
    )
    for task in rows:
        if task.status == TaskStatus.OPEN:
            if task.claimed_by is not None and task.claimed_by_id != user.pk:
                taker = task.claimed_by.get_username()
                texts.append(_("“%(title)s” was taken by %(name)s.")
                             % {"title": task.title, "name": taker})  # fmt: skip
            elif task.claimed_by_id != user.pk:
                texts.append(_("“%(title)s” moved out of this list.") % {"title": task.title})
        elif task.decided_by_id != user.pk:
            who = task.decided_by.get_username() if task.decided_by else _("the process")
            if task.outcome:
                text = _("“%(title)s” was decided %(outcome)s by %(name)s.")
            else:
                text = _("“%(title)s” was %(outcome)s.")
            outcome = task.outcome or task.get_status_display().lower()
            texts.append(text % {"title": task.title, "outcome": outcome, "name": who})
    return texts


@require_POST
@login_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Approve, reject or claim many tasks: each row passes the policy on its
    own and fails alone; the answer lists every row's result."""
    action = request.POST.get("action", "")
    ids = [int(pk) for pk in request.POST.getlist("task") if pk.isdigit()][:BULK_LIMIT]
    if action not in {"approve", "reject", "claim"} or not ids:
        messages.error(request, _("Choose tasks and an action (approve, reject or claim)."))
        return back(request, reverse("tasks_ui:inbox"))
    comment = request.POST.get("comment", "").strip()
    results = []
    for pk in ids:
        try:
            if action == "claim":
                services.task_claim(task_id=pk, actor=person(request))
            else:
                services.task_complete(
                    task_id=pk, outcome=action, data={}, actor=person(request), comment=comment
                )
            results.append((pk, True, "done"))
        except Exception as exc:
            problem = problem_for(exc)
            if problem is None:
                raise
            # A task the user may not see reads as missing, whatever the reason.
            text = "no such task" if problem.status == 404 else problem.text()
            results.append((pk, False, text))
    if request.htmx:  # type: ignore[attr-defined]
        context = {"results": results, "action": action}
        response = render(request, "tasks_ui/partials/bulk_results.html", context)
        response["HX-Trigger"] = "tasks-changed"  # the list refreshes itself
        return response
    for pk, ok, text in results:
        (messages.success if ok else messages.error)(request, f"Task {pk}: {action} — {text}")
    return back(request, reverse("tasks_ui:inbox"))


@require_POST
@login_required
def save_filter(request: HttpRequest) -> HttpResponse:
    form = SavedFilterForm(request.POST)
    query = request.POST.get("query", "")[:500]
    if not form.is_valid():
        messages.error(request, _("Give the filter a name (at most 60 characters)."))
    else:
        SavedFilter.objects.update_or_create(
            user=person(request), name=form.cleaned_data["name"], defaults={"query": query}
        )
        messages.success(
            request, _("Saved the filter “%(name)s”.") % {"name": form.cleaned_data["name"]}
        )
    return redirect(reverse("tasks_ui:inbox") + (f"?{query}" if query else ""))


@require_POST
@login_required
def delete_filter(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=person(request))
    saved.delete()
    messages.success(request, _("Deleted the filter “%(name)s”.") % {"name": saved.name})
    return redirect("tasks_ui:inbox")
