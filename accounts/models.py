from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who starts processes and decides tasks.

    `manager` feeds the `starter_manager` assignee resolver; `timezone` is how
    due dates are shown to this person.
    """

    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
