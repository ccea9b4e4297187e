from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedFilter(models.Model):
    """A person's named inbox filter (the query string of the list)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=500)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="one_filter_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name
