"""What the page layout shows each person: only the places they may go."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from accounts import permissions


class Navigation:
    """The menu's entries for one request; each is worked out when the page
    asks for it (the start entry may read the published definitions)."""

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def inbox(self) -> bool:
        return not permissions.reads_only(self.user)

    @cached_property
    def start(self) -> bool:
        from orchestration.models import ProcessVersion
        from orchestration.states import VersionStatus

        def named() -> Any:  # only the `starters` of published versions, not their specs
            rows = ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED)
            return rows.filter(spec__has_key="starters").values_list("spec__starters", flat=True)

        return permissions.may_start_something(self.user, _Lazy(named))

    @cached_property
    def instances(self) -> bool:
        # Everyone who sees every instance, and requesters (their own).
        return permissions.can_view_instances(self.user) or self.start

    @cached_property
    def audit(self) -> bool:
        return permissions.can_read_audit(self.user)

    @cached_property
    def reports(self) -> bool:
        return permissions.can_read_reports(self.user)

    @cached_property
    def admin(self) -> bool:
        return permissions.can_use_admin(self.user)


class _Lazy:
    """An iterable that runs its query only when iterated."""

    def __init__(self, load: Any) -> None:
        self.load = load

    def __iter__(self) -> Any:
        return iter(self.load())


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": None}
    return {"nav": Navigation(user)}
