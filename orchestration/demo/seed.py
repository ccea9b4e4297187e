"""Demo users, groups and definitions for `manage.py demo`."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction

from accounts.models import User
from accounts.roles import Role
from accounts.services import roles_sync

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
PASSWORD = "demo"

# username -> (full name, groups, manager)
USERS: dict[str, tuple[str, list[str], str | None]] = {
    "admin": ("Ada Admin", [Role.PROCESS_ADMIN], None),
    "alice": ("Alice Requester", [Role.REQUESTER, "requesters"], "bob"),
    "bob": ("Bob Manager", [Role.APPROVER, "managers"], "carol"),
    "carol": ("Carol Director", [Role.APPROVER, "directors", "managers"], None),
    "dave": ("Dave Director", [Role.APPROVER, "directors"], None),
    "uma": ("Uma Underwriter", [Role.APPROVER, "underwriters"], "carol"),
    # The purchase request's three reviews (two of three approve it).
    "lena": ("Lena Legal", [Role.APPROVER, "legal"], "carol"),
    "fred": ("Fred Finance", [Role.APPROVER, "finance"], "carol"),
    "sami": ("Sami Security", [Role.APPROVER, "security"], "carol"),
    "otto": ("Otto Operator", [Role.OPERATOR, "operators"], None),
    "audrey": ("Audrey Auditor", [Role.AUDITOR], None),
}


STAFF = {"admin", "otto", "audrey"}


@transaction.atomic
def seed_users() -> list[User]:
    """Create (or reset) the demo users with password "demo". Idempotent."""
    roles_sync()
    users: dict[str, User] = {}
    for username, (full_name, groups, _) in USERS.items():
        first, last = full_name.split(" ", 1)
        user, _ = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.com"
        # The admin is for the roles that have pages there; approvers and
        # requesters work in the inbox and see no Admin link.
        user.is_staff = username in STAFF
        user.is_superuser = username == "admin"
        user.set_password(PASSWORD)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=str(g))[0] for g in groups])
        users[username] = user
    for username, (_, _, manager) in USERS.items():
        users[username].manager = users.get(manager) if manager else None
        users[username].save(update_fields=["manager"])
    return list(users.values())


def seed_definitions() -> None:
    call_command("load_definitions", str(DEFINITIONS_DIR), publish=True)
