"""Adding files to an instance or a task, within a size, count and type budget,
through Django's storage API; each addition is in the audit log."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from datetime import datetime
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts import permissions
from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.engine.runtime import Writer
from orchestration.exceptions import InvalidInput
from orchestration.models import Attachment, HumanTask, ProcessInstance

if TYPE_CHECKING:
    from accounts.models import User

NAME_CHARS = 200
_UNSAFE = re.compile(r"[^\w.\- ]+")


def allowed_types() -> list[str]:
    return [t.lower().lstrip(".") for t in settings.ORCHESTRATION_ATTACHMENT_TYPES]


def _clean_name(name: str) -> str:
    """The name as people see it (Unicode kept), without path parts, control
    characters or anything a file system or a header could misread."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > NAME_CHARS:  # keep the extension
        stem, dot, ext = base.rpartition(".")
        base = (stem[: NAME_CHARS - len(ext) - 1] + dot + ext) if dot else base[:NAME_CHARS]
    return base


def attachment_add(
    *, instance_id: int, actor: User, upload: IO[bytes], name: str, size: int,
    task_id: int | None = None, now: datetime | None = None, field: str = "file",
) -> Attachment:  # fmt: skip
    """Store one file for the instance (and the task it was added on).

    InvalidInput names `field` for a name, type or size out of bounds, or one
    file too many; PermissionDenied past attach_refusal; DoesNotExist for an
    instance or task the actor may not see. Nothing is stored on refusal."""
    instance = ProcessInstance.objects.filter(pk=instance_id).first()
    if instance is None or not (
        permissions.can_see_instance(actor, instance)
        or HumanTask.objects.filter(permissions.tasks_visible_q(actor), instance=instance).exists()
    ):
        raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")  # hidden: not there
    task = None
    if task_id is not None:
        rows = HumanTask.objects.select_related("instance")
        task = rows.filter(pk=task_id, instance=instance).first()
        if task is None or not permissions.can_see_task(actor, task):
            raise HumanTask.DoesNotExist(f"no task {task_id}")
    permissions.require(actor, permissions.attach_refusal(actor, instance, task))
    clean = _clean_name(name)
    ext = clean.rpartition(".")[2].lower() if "." in clean else ""
    limit = settings.ORCHESTRATION_ATTACHMENT_MAX_BYTES
    if not clean:
        raise InvalidInput({field: [_("the file needs a name")]})
    if ext not in allowed_types():
        kinds = ", ".join(allowed_types())
        raise InvalidInput({field: [_("%(name)s: only %(types)s files")
                                    % {"name": clean, "types": kinds}]})  # fmt: skip
    if size > limit:
        most = number_format(limit, force_grouping=True)
        raise InvalidInput({field: [_("%(name)s: larger than %(limit)s bytes"
                                      " (ORCHESTRATION_ATTACHMENT_MAX_BYTES)")
                                    % {"name": clean, "limit": most}]})  # fmt: skip
    digest = hashlib.sha256()
    for chunk in iter(lambda: upload.read(1024 * 1024), b""):
        digest.update(chunk)
    upload.seek(0)
    now = now or clock.now()
    with transaction.atomic():
        locked = ProcessInstance.objects.select_for_update().get(pk=instance.pk)
        if locked.attachments.count() >= settings.ORCHESTRATION_ATTACHMENTS_PER_INSTANCE:
            count = settings.ORCHESTRATION_ATTACHMENTS_PER_INSTANCE
            raise InvalidInput({field: [_("instance %(id)s already has %(n)s files"
                                          " (ORCHESTRATION_ATTACHMENTS_PER_INSTANCE)")
                                        % {"id": instance.pk, "n": count}]})  # fmt: skip
        row = Attachment(instance=locked, task=task, name=clean, size=size,
                         content_type=mimetypes.guess_type(clean)[0] or "application/octet-stream",
                         sha256=digest.hexdigest(), uploaded_by=actor, created_at=now)  # fmt: skip
        # Stored under a name of our own: two "quote.pdf" never collide.
        row.file.save(f"{digest.hexdigest()[:16]}.{ext}", File(upload), save=False)
        try:
            row.save()
            writer = Writer(now)
            payload = {"attachment": row.pk, "name": clean, "size": size, "sha256": row.sha256,
                       **({"task": task.pk} if task else {})}  # fmt: skip
            writer.record(locked, AuditKind.ATTACHMENT_ADDED, actor=actor,
                          step=task.step if task else "", payload=payload)  # fmt: skip
            writer.flush()
        except BaseException:
            row.file.delete(save=False)  # no file without its row
            raise
    return row
