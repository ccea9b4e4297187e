"""Shared fixtures: personas, and the PostgreSQL-only marker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import roles_sync
from orchestration import clock as engine_clock

# The browser tests' shared fixture (`browser`): tests/browser.py.
pytest_plugins = ["tests.browser"]


def pytest_configure(config: pytest.Config) -> None:
    # The German pages need the compiled catalogue (manage.py does this too).
    from pathlib import Path

    from config.translations import compile_stale

    compile_stale(Path(__file__).resolve().parent.parent)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Locking and multi-process behaviour only means something on PostgreSQL; on
    # SQLite such tests are skipped visibly, with the reason, never passed.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith(".postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


class Clock:
    """A controllable clock for workers and services: tests move time, never sleep."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# The engine's clock runs years away from the wall clock, once each way, so a
# row stamped with real time anywhere (a model default, a bare timezone.now())
# is never due, or always overdue, and the test that depends on it fails.
CLOCK_OFFSETS = {"past": timedelta(days=-3 * 365), "future": timedelta(days=3 * 365)}


@pytest.fixture(params=sorted(CLOCK_OFFSETS))
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    """The engine's time source for this test (orchestration.clock), under control."""
    # Years from today, but always a Monday at 09:00 UTC: tests may rely on the
    # time of day and the weekday, never on the date.
    day = (timezone.now() + CLOCK_OFFSETS[request.param]).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    fake = Clock(day - timedelta(days=day.weekday()))
    with engine_clock.use(fake):
        yield fake


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
    from accounts.access import forget
    from orchestration.engine.versions import clear_caches

    clear_caches()
    forget()  # users' permissions, by id too


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # A request in German leaves German active in this thread (LocaleMiddleware
    # activates, nothing resets): code outside requests must not inherit it.
    from django.conf import settings
    from django.utils import translation

    yield
    translation.activate(settings.LANGUAGE_CODE)
