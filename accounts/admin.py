from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Absence, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Process engine", {"fields": ("manager", "timezone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "manager", "is_staff")
    autocomplete_fields = ("manager",)


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "starts_at", "ends_at", "delegate", "routed_at")
    list_filter = ("starts_at",)
    search_fields = ("user__username", "delegate__username")
    autocomplete_fields = ("user", "delegate")
    readonly_fields = ("routed_at",)
