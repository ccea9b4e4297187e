"""What the page layout shows each person: only the places they may go."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts import permissions


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "audit": permissions.can_read_audit(user),
            "admin": permissions.can_use_admin(user),
        }
    }
