from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.attributes import validate_attributes
from accounts.timezones import validate_timezone


class User(AbstractUser):
    """A person who starts processes and decides tasks.

    `manager` feeds the `starter_manager` assignee resolver; `timezone` is how
    due dates are shown to this person.
    """

    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        verbose_name=_("manager"),
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], verbose_name=_("time zone")
    )
    # The language of the pages (settings.LANGUAGES); empty: the browser's.
    language = models.CharField(
        max_length=10, blank=True, default="", verbose_name=_("language"),
        # Each language in its own words, as language menus show them.
        choices=[("", _("Browser's language")), ("en", "English"), ("de", "Deutsch")],
    )  # fmt: skip
    # What allocation rules may ask of a person (`assignees.where`): an
    # approval limit, skills, a region... names to numbers, text, true/false
    # or lists of those.
    attributes = models.JSONField(
        default=dict, blank=True, validators=[validate_attributes],
        verbose_name=_("attributes"),
        help_text=_('For allocation rules, e.g. {"approval_limit": 5000, "skills": ["it"]}.'),
    )  # fmt: skip

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Absence(models.Model):
    """A window in which a user is away, and who decides their tasks meanwhile.

    Tasks assigned to the user by name route to the delegate (following the
    delegate's own absences) when they open during the window, and open ones
    when the window starts. The user edits their own; admins anyone's.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="absences", verbose_name=_("user")
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    delegate = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("delegate"),
    )
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    # When the open tasks of the user were routed (the window's start was swept).
    routed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("routed at"))

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"], condition=models.Q(routed_at__isnull=True),
                                name="absence_to_route")]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="absence_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(delegate=models.F("user")), name="absence_delegate_not_self"
            ),
        ]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")

    def __str__(self) -> str:
        return f"{self.user} away {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"
