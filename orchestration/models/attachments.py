"""Files people attach to an instance (on its start form) or to one of its
tasks: quotes, invoices. The bytes live in Django's default storage (local
files by default, any django-storages backend in production); the row keeps
what the audit log and the pages need to name and check them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock


class Attachment(models.Model):
    instance = models.ForeignKey(
        "orchestration.ProcessInstance",
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("instance"),
    )
    # The task it was added on; None when added with the start or to the instance.
    task = models.ForeignKey(
        "orchestration.HumanTask", null=True, blank=True, on_delete=models.CASCADE,
        related_name="attachments", verbose_name=_("task"),
    )  # fmt: skip
    file = models.FileField(upload_to="attachments/%Y/%m/", max_length=300, verbose_name=_("file"))
    name = models.CharField(
        max_length=200, verbose_name=_("name")
    )  # as the person named it (shown, downloaded as)
    content_type = models.CharField(max_length=100, verbose_name=_("content type"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"{self.name} (instance {self.instance_id})"
