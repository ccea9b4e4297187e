"""Files on an instance or a task in the browser: adding them (a task's page,
the start form) and downloading them, under the policy's visibility rules."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from orchestration import services
from orchestration.exceptions import InvalidInput
from orchestration.models import Attachment
from tasks_ui.responses import back, person, refused, visible_task


def add_files(request: HttpRequest, *, instance_id: int, task_id: int | None = None) -> int:
    """Every file posted under `files`, each through the service; InvalidInput
    for the first that is refused (the caller's transaction undoes the rest)."""
    added: list[Attachment] = []
    try:
        for upload in request.FILES.getlist("files"):
            added.append(services.attachment_add(
                instance_id=instance_id, task_id=task_id, actor=person(request), upload=upload,
                name=upload.name or "", size=upload.size or 0, field="files",
            ))  # fmt: skip
    except BaseException:
        for row in added:  # their rows roll back with the caller's transaction
            row.file.delete(save=False)
        raise
    return len(added)


@require_POST
@login_required
def task_attach(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_task(request, pk)
    here = reverse("tasks_ui:task", args=[pk])
    try:
        if not request.FILES.getlist("files"):
            raise InvalidInput({"files": [_("choose a file")]})
        with transaction.atomic():  # all the files or none
            added = add_files(request, instance_id=task.instance_id, task_id=task.pk)
    except Exception as exc:
        return refused(request, exc, fallback=here)
    text = ngettext(
        "You added %(count)d file to “%(title)s”", "You added %(count)d files to “%(title)s”", added
    )
    messages.success(request, text % {"count": added, "title": task.title})
    return back(request, here)


@require_GET
@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    found = Attachment.objects.select_related("task__instance", "instance").filter(pk=pk).first()
    if found is None or not permissions.can_read_attachment(request.user, found):
        raise Http404(_("No such file, or not one you may see."))
    return FileResponse(found.file.open("rb"), as_attachment=True, filename=found.name,
                        content_type=found.content_type)  # fmt: skip
