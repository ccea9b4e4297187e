"""Writes for accounts: role groups and their permissions."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.roles import CAPABILITIES, Role


@transaction.atomic
def roles_sync() -> list[Group]:
    """Create one group per Role and set exactly its capability permissions.

    Idempotent; run by `manage.py setup_roles` and the demo. Raises
    Permission.DoesNotExist if a capability names a permission that migrations
    have not created (a programming error caught by the test suite).
    """
    groups = []
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = []
        for dotted in sorted(CAPABILITIES[role]):
            app_label, codename = dotted.split(".", 1)
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)
        groups.append(group)
    return groups
