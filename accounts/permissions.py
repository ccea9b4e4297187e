"""The policy module: every "may this user do X to Y" question is answered here.

Views, admin, API, email links and commands ask these predicates; none of them
checks a permission by hand. Predicates are pure (no writes) and cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from orchestration.models import HumanTask, ProcessVersion

    AnyUser = AbstractBaseUser | AnonymousUser


def require(actor: AnyUser | None, allowed: bool) -> None:
    """Raise PermissionDenied unless `allowed`. `actor` None is the system itself
    (management commands, the demo seed), which the policy does not restrict."""
    if actor is not None and not allowed:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied


def can_view_instances(user: AnyUser | None) -> bool:
    """See instances with their step records and tasks (operators, auditors, admins)."""
    return _active(user) and user.has_perm("orchestration.view_processinstance")  # type: ignore[union-attr]


def _active(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_view_definitions(user: AnyUser | None) -> bool:
    return _active(user) and user.has_perm("orchestration.view_processversion")  # type: ignore[union-attr]


def can_edit_draft(user: AnyUser | None, version: ProcessVersion | None = None) -> bool:
    """Create drafts, or change one; a version that is not a draft is never editable."""
    if not _active(user):
        return False
    if version is not None and not version.is_draft:
        return False
    perm = "orchestration.change_processversion" if version else "orchestration.add_processversion"
    return user.has_perm(perm)  # type: ignore[union-attr]


def can_publish(user: AnyUser | None) -> bool:
    """Publish, deprecate and retire versions: the process-admin capability."""
    return _active(user) and user.has_perm("orchestration.publish_processversion")  # type: ignore[union-attr]


def can_start(user: AnyUser | None, spec: Mapping[str, Any]) -> bool:
    """A definition's `starters` (users, groups) decide; without them, the requester
    capability (start_processinstance) does."""
    if not _active(user):
        return False
    starters = spec.get("starters") or {}
    if not starters:
        return user.has_perm("orchestration.start_processinstance")  # type: ignore[union-attr]
    if user.get_username() in (starters.get("users") or []):  # type: ignore[union-attr]
        return True
    wanted = set(starters.get("groups") or [])
    return bool(wanted) and user.groups.filter(name__in=wanted).exists()  # type: ignore[union-attr]


def can_decide(user: AnyUser | None, task: HumanTask) -> bool:
    """An assignee (directly or through a group) of an open task, unless excluded:
    `exclude: [starter]` keeps the person who started the instance out (four-eyes)."""
    if not _active(user) or task.status != "open":
        return False
    if "starter" in (task.exclude or []) and task.instance.started_by_id == user.pk:  # type: ignore[union-attr]
        return False
    assignees = list(task.assignees.all())
    if any(a.user_id == user.pk for a in assignees):  # type: ignore[union-attr]
        return True
    group_ids = {a.group_id for a in assignees if a.group_id}
    return bool(group_ids & group_ids_of(user))  # type: ignore[arg-type]


def group_ids_of(user: AnyUser) -> set[int]:
    """The user's group ids, read once per user object (that is, once per request)."""
    cached: set[int] | None = getattr(user, "_group_ids_cache", None)
    if cached is None:
        cached = set(user.groups.values_list("pk", flat=True))  # type: ignore[union-attr]
        user._group_ids_cache = cached  # type: ignore[union-attr]
    return cached


def can_operate(user: AnyUser | None) -> bool:
    """Cancel, retry, message and migrate instances: the operator capability."""
    return _active(user) and user.has_perm("orchestration.operate_processinstance")  # type: ignore[union-attr]
