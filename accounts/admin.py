from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from accounts.models import Absence, User


class _ProtectsCandidates:
    """The delete confirmation lists the open tasks that still name the user or
    group as a candidate: deleting it is refused (orchestration/candidates.py)."""

    model: Any

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        from orchestration.candidates import open_tasks_naming

        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        tasks = open_tasks_naming(self.model, [obj.pk for obj in objs])
        return to_delete, counts, perms_needed, [*protected, *(str(t) for t in tasks)]


@admin.register(User)
class UserAdmin(_ProtectsCandidates, BaseUserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            gettext_lazy("Process engine"),
            {"fields": ("manager", "timezone", "language", "attributes")},
        ),
    )
    list_display = ("username", "email", "first_name", "last_name", "manager", "is_staff")
    autocomplete_fields = ("manager",)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        from accounts import permissions
        from orchestration.admin_retention import erase_selected_users

        actions = super().get_actions(request)
        if permissions.erase_refusal(request.user) is None:
            actions["erase_selected_users"] = cast(Any, (
                erase_selected_users, "erase_selected_users",
                erase_selected_users.short_description,  # type: ignore[attr-defined]
            ))  # fmt: skip
        return actions


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(_ProtectsCandidates, BaseGroupAdmin):
    pass


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "starts_at", "ends_at", "delegate", "routed_at")
    list_filter = ("starts_at",)
    search_fields = ("user__username", "delegate__username")
    autocomplete_fields = ("user", "delegate")
    readonly_fields = ("routed_at",)
