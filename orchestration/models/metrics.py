"""The engine's counters, kept in the database (orchestration/metrics/)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MetricSample(models.Model):
    """One sample of a counter or a histogram (a bucket, its sum or its count)
    with its labels. Written by one writer at a time (the metrics fold holds its
    outbox cursor; the webhook sender runs alone), read by every /metrics scrape,
    so every web process and every host answers the same totals."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    # The labels in Prometheus' text form, sorted by name: the row's identity.
    key = models.CharField(max_length=500, verbose_name=_("labels"))
    labels = models.JSONField(default=dict, verbose_name=_("labels"))
    value = models.FloatField(default=0, verbose_name=_("value"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "key"], name="metric_sample")]
        verbose_name = _("metric sample")
        verbose_name_plural = _("metric samples")

    def __str__(self) -> str:
        return f"{self.name}{{{self.key}}} {self.value}"
