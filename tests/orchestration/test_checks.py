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
