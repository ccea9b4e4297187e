"""What the policy knows of a user (their permissions and groups), kept for a
few seconds per process.

Reading them costs three queries per request (Django's two for permissions,
one for groups); people and API clients deciding and starting many times a
second spent more on that than on the work itself (bench/engine.py). A change
of roles (a user's groups or permissions, a group's permissions, a user saved
or deleted) clears this process's entries at once; other processes see it
within ORCHESTRATION_ACCESS_CACHE_SECONDS (0: read every time). Whether a user
is active or a superuser is read with the user on every request, never kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from orchestration import clock

_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Access:
    permissions: frozenset[str]
    group_ids: frozenset[int]
    group_names: frozenset[str]
    until: datetime


_kept: dict[tuple[int, bool], Access] = {}


def of(user: Any) -> Access:
    """The user's permissions and groups (an active, signed-in user)."""
    now = clock.now()
    mine: Access | None = getattr(user, "_access", None)
    if mine is not None:  # read for this user object (this request) already
        return mine
    key = (user.pk, bool(user.is_superuser))
    found = _kept.get(key)
    if found is not None and found.until > now:
        user._access = found
        return found
    groups = list(user.groups.values_list("pk", "name"))
    found = Access(
        permissions=frozenset(ModelBackend().get_all_permissions(user)),
        group_ids=frozenset(pk for pk, _ in groups),
        group_names=frozenset(name for _, name in groups),
        until=now + timedelta(seconds=settings.ORCHESTRATION_ACCESS_CACHE_SECONDS),
    )
    user._access = found
    if settings.ORCHESTRATION_ACCESS_CACHE_SECONDS > 0:
        if len(_kept) >= _MAX_ENTRIES:
            _kept.clear()
        _kept[key] = found
    return found


def forget(**kwargs: Any) -> None:
    """Roles changed somewhere: read everyone afresh (a signal receiver)."""
    _kept.clear()


class CachedModelBackend(ModelBackend):
    """Django's model backend, with each user's permissions read through `of()`."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return set(of(user_obj).permissions)
