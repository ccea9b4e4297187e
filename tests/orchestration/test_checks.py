from __future__ import annotations

import pytest

from orchestration import handlers, services
from orchestration.checks import check_handler_modules, check_published_handlers
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


def test_published_versions_must_name_registered_handlers(monkeypatch) -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    services.version_publish(version=draft, actor=None)
    assert check_published_handlers(databases=["default"]) == []
    monkeypatch.setitem(handlers._handlers, "demo.place_order", None)
    monkeypatch.delitem(handlers._handlers, "demo.place_order")
    errors = check_published_handlers(databases=["default"])
    assert [e.id for e in errors] == ["orchestration.E002"]
    assert "steps.place_order.handler names handler 'demo.place_order'" in errors[0].msg
    assert check_published_handlers() == []  # only when a database is named


def test_unimportable_handler_module_is_reported(settings) -> None:
    settings.ORCHESTRATION_HANDLER_MODULES = ["no.such.module"]
    errors = check_handler_modules()
    assert [e.id for e in errors] == ["orchestration.E001"]


def test_published_versions_must_name_registered_resolvers(monkeypatch) -> None:
    from tests.orchestration.engine import handlers as test_handlers  # registers test.broken
    from tests.orchestration.engine.conftest import publish

    assert test_handlers.DIRECTORY
    publish("""
key: resolved
name: Resolved
start: ask
steps:
  ask: {type: approval, assignees: {resolver: test.broken}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    assert check_published_handlers(databases=["default"]) == []
    monkeypatch.delitem(handlers._resolvers, "test.broken")
    errors = check_published_handlers(databases=["default"])
    assert [e.id for e in errors] == ["orchestration.E003"]
    assert "steps.ask.assignees.resolver names resolver 'test.broken'" in errors[0].msg


@pytest.mark.parametrize(
    ("timeout", "depth", "ids"),
    [
        ("5m", 10, []),
        ("five minutes", 10, ["orchestration.E004"]),
        ("4000d", 10, ["orchestration.E004"]),
        ("5m", 0, ["orchestration.E005"]),
    ],
)
def test_engine_settings_are_checked(settings, timeout, depth, ids) -> None:
    from orchestration.checks import check_engine_settings

    settings.ORCHESTRATION_DEFAULT_STEP_TIMEOUT = timeout
    settings.ORCHESTRATION_SUBPROCESS_DEPTH = depth
    assert [e.id for e in check_engine_settings()] == ids


@pytest.mark.parametrize(
    ("calendar", "messages"),
    [
        ({"timezone": "Europe/Berlin", "holidays": "DE"}, []),
        ({"timezone": "Mars/Olympus"}, ["calendar.timezone: unknown time zone 'Mars/Olympus'"]),
        ({"timezone": "UTC", "hours": "9-5", "weekend": True},
         ["calendar.hours: '9-5' is not a working-hours range such as 09:00-17:00",
          "calendar.weekend: unknown field"]),
        ("UTC", ["calendar: expected object, got string"]),
    ],
)  # fmt: skip
def test_the_site_calendar_is_checked_like_a_definitions(settings, calendar, messages) -> None:
    from orchestration.checks import check_engine_settings

    settings.ORCHESTRATION_CALENDAR = calendar
    errors = check_engine_settings()
    assert {e.id for e in errors} <= {"orchestration.E006"}
    assert [e.msg for e in errors] == [f"ORCHESTRATION_CALENDAR: {m}" for m in messages]


@pytest.mark.parametrize(
    ("allowed", "heartbeat", "messages"),
    [
        (["10.0.0.0/8", "127.0.0.1", "::1"], 60, []),
        (["10.0.0.0/33"], 60, ["ORCHESTRATION_METRICS_ALLOWED_IPS: '10.0.0.0/33' is not an"
                               " address or a network (e.g. 10.0.0.0/8)"]),
        (["prometheus.internal"], 0, [
            "ORCHESTRATION_METRICS_ALLOWED_IPS: 'prometheus.internal' is not an address or a"
            " network (e.g. 10.0.0.0/8)",
            "ORCHESTRATION_READY_HEARTBEAT_SECONDS must be at least 1 (seconds)"]),
    ],
)  # fmt: skip
def test_metrics_and_readiness_settings_are_checked(settings, allowed, heartbeat, messages) -> None:
    from orchestration.checks import check_operations_settings

    settings.ORCHESTRATION_METRICS_ALLOWED_IPS = allowed
    settings.ORCHESTRATION_READY_HEARTBEAT_SECONDS = heartbeat
    assert [e.msg for e in check_operations_settings()] == messages
