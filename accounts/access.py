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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from orchestration import clock

_MAX_ENTRIES = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class Groups:
    ids: frozenset[int]
    names: frozenset[str]


@dataclass(frozen=True)
class _Entry:
    value: Any
    until: datetime


# Groups and permissions are read apart: deciding a task asks for the groups
# only (one query), most pages and API views for the permissions only (two).
_groups: dict[int, _Entry] = {}
_permissions: dict[tuple[int, bool], _Entry] = {}


def groups_of(user: Any) -> Groups:
    """The groups of an active, signed-in user."""

    def read() -> Groups:
        rows = list(user.groups.values_list("pk", "name"))
        return Groups(ids=frozenset(pk for pk, _ in rows), names=frozenset(n for _, n in rows))

    return _kept(user, "_access_groups", _groups, user.pk, read)


def permissions_of(user: Any) -> frozenset[str]:
    """The permissions of an active, signed-in user ("app_label.codename")."""
    key = (user.pk, bool(user.is_superuser))
    return _kept(
        user, "_access_permissions", _permissions, key,
        lambda: frozenset(ModelBackend().get_all_permissions(user)),
    )  # fmt: skip


def _kept(user: Any, attribute: str, kept: dict[Any, _Entry], key: Any, read: Callable[[], T]) -> T:
    """Read once per user object (a request), and per process for a few seconds."""
    mine: T | None = getattr(user, attribute, None)
    if mine is not None:
        return mine
    now = clock.now()
    found = kept.get(key)
    if found is None or found.until <= now:
        found = _Entry(read(), now + timedelta(seconds=settings.ORCHESTRATION_ACCESS_CACHE_SECONDS))
        if settings.ORCHESTRATION_ACCESS_CACHE_SECONDS > 0:
            if len(kept) >= _MAX_ENTRIES:
                kept.clear()
            kept[key] = found
    value: T = found.value
    setattr(user, attribute, value)
    return value


def forget(**kwargs: Any) -> None:
    """Roles changed somewhere: read everyone afresh (a signal receiver)."""
    _groups.clear()
    _permissions.clear()


class CachedModelBackend(ModelBackend):
    """Django's model backend, with each user's permissions read through `of()`."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return set(permissions_of(user_obj))
