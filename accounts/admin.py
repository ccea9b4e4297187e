from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Process engine", {"fields": ("manager", "timezone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "manager", "is_staff")
    autocomplete_fields = ("manager",)
