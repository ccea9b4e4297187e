"""Shared fixtures: personas, and the PostgreSQL-only marker."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from accounts.models import User
from accounts.roles import Role
from accounts.services import roles_sync


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Locking and multi-process behaviour only means something on PostgreSQL; on
    # SQLite such tests are skipped visibly, with the reason, never passed.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def make_user(username: str, *groups: str, **extra: object) -> User:
    user = User.objects.create_user(username=username, password="pw", **extra)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def roles(db: None) -> None:
    roles_sync()


@pytest.fixture
def requester(roles: None) -> User:
    return make_user("rita", Role.REQUESTER, "requesters")


@pytest.fixture
def approver(roles: None) -> User:
    return make_user("amos", Role.APPROVER, "managers")


@pytest.fixture
def process_admin(roles: None) -> User:
    return make_user("pat", Role.PROCESS_ADMIN, is_staff=True)


@pytest.fixture
def outsider(roles: None) -> User:
    return make_user("olga", is_staff=True)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_engine_caches() -> None:
    # Versions are cached per process by id; a rolled-back test reuses ids.
    from orchestration.engine.runtime import clear_caches

    clear_caches()
