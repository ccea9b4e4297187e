from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from accounts import permissions
from accounts.roles import CAPABILITIES, Role
from accounts.services import roles_sync
from orchestration import services
from tests.conftest import make_user
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


def test_roles_sync_is_idempotent_and_grants_exactly_the_capabilities() -> None:
    roles_sync()
    roles_sync()
    for role in Role:
        group = Group.objects.get(name=role.value)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert granted == set(CAPABILITIES[role])


@pytest.mark.parametrize(
    ("role", "publish", "edit", "view"),
    [
        (Role.PROCESS_ADMIN, True, True, True),
        (Role.OPERATOR, False, False, True),
        (Role.AUDITOR, False, False, True),
        (Role.APPROVER, False, False, False),
        (Role.REQUESTER, False, False, False),
    ],
)
def test_capabilities_by_role(roles, role: Role, publish: bool, edit: bool, view: bool) -> None:
    user = make_user(f"u-{role.value}", role.value)
    assert permissions.can_publish(user) is publish
    assert permissions.can_edit_draft(user) is edit
    assert permissions.can_view_definitions(user) is view


def test_nobody_edits_a_published_version(process_admin) -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    assert permissions.can_edit_draft(process_admin, draft)
    published = services.version_publish(version=draft, actor=None)
    assert not permissions.can_edit_draft(process_admin, published)


def test_anonymous_and_inactive_users_may_do_nothing(process_admin) -> None:
    assert not permissions.can_publish(AnonymousUser())
    assert not permissions.can_publish(None)
    process_admin.is_active = False
    assert not permissions.can_publish(process_admin)
