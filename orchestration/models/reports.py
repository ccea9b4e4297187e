"""Daily roll-ups for the SLA report (orchestration/reports/), kept by the
metrics fold from the audit log: a window of days is a few hundred rows to
add up, however many instances ran."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StepDay(models.Model):
    """One version's day: for the instance as a whole (`step` ""), or for one
    step. Durations are counted in fixed log-scale buckets (reports/sketch.py)
    so that days add up and percentiles come from the sum."""

    day = models.DateField(verbose_name=_("day"))  # UTC
    version = models.ForeignKey(
        "orchestration.ProcessVersion", on_delete=models.CASCADE, related_name="+",
        verbose_name=_("version"),
    )  # fmt: skip
    step = models.CharField(max_length=100, blank=True, verbose_name=_("step"))
    started = models.PositiveIntegerField(default=0, verbose_name=_("started"))
    completed = models.PositiveIntegerField(default=0, verbose_name=_("completed"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))
    cancelled = models.PositiveIntegerField(default=0, verbose_name=_("cancelled"))
    incidents = models.PositiveIntegerField(default=0, verbose_name=_("incidents"))
    left = models.PositiveIntegerField(default=0, verbose_name=_("left"))  # visits ended
    retries = models.PositiveIntegerField(default=0, verbose_name=_("retries"))
    failures = models.PositiveIntegerField(default=0, verbose_name=_("failures"))
    # Over the definition's `sla`: instances that ended after sla.process (step
    # ""), visits that left the step after its sla.steps entry.
    late = models.PositiveIntegerField(default=0, verbose_name=_("late"))
    # Durations: the whole instance's (step "") or the time spent in the step.
    durations = models.JSONField(default=list, verbose_name=_("durations"))
    # Escalation levels that fired: {"0": 3, "1": 1}.
    escalations = models.JSONField(default=dict, verbose_name=_("escalations"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "step", "day"], name="step_day")]
        verbose_name = _("step day")
        verbose_name_plural = _("step days")

    def __str__(self) -> str:
        return f"{self.version_id} {self.step or '(instance)'} {self.day}"


class EdgeDay(models.Model):
    """How often instances of a version went from one step to another on a day
    (`source` "": the start)."""

    day = models.DateField(verbose_name=_("day"))
    version = models.ForeignKey(
        "orchestration.ProcessVersion", on_delete=models.CASCADE, related_name="+",
        verbose_name=_("version"),
    )  # fmt: skip
    source = models.CharField(max_length=100, blank=True, verbose_name=_("from"))
    target = models.CharField(max_length=100, verbose_name=_("to"))
    taken = models.PositiveIntegerField(default=0, verbose_name=_("taken"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "source", "target", "day"], name="edge_day")
        ]
        verbose_name = _("edge day")
        verbose_name_plural = _("edge days")

    def __str__(self) -> str:
        return f"{self.version_id} {self.source}->{self.target} {self.day}"
