"""Reads about people that the engine and the pages share."""

from __future__ import annotations

from datetime import datetime

from accounts.models import Absence


def absent_at(now: datetime) -> dict[int, int | None]:
    """Users absent at `now` -> their delegate (None when they named nobody):
    the input of accounts.absences.resolve()."""
    rows = Absence.objects.filter(starts_at__lte=now, ends_at__gt=now).values_list(
        "user_id", "delegate_id"
    )
    return dict(rows)
