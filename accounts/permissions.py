"""The policy module: every "may this user do X to Y" question is answered here.

Views, admin, API, email links and commands ask these predicates; none of them
checks a permission by hand. Predicates are pure (no writes) and cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from orchestration.models import ProcessVersion

    AnyUser = AbstractBaseUser | AnonymousUser


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
