"""load_definitions and export_definition: definitions as code."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orchestration.models import ProcessDefinition, ProcessVersion
from orchestration.states import VersionStatus
from tests.orchestration.factories import DEMO_DIR, PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


def load(*args: str, publish: bool = False) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_definitions", *args, publish=publish, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_loading_a_folder_publishes_children_before_parents() -> None:
    out, _ = load(str(DEMO_DIR), publish=True)
    lines = out.splitlines()
    assert len(lines) == len(list(DEMO_DIR.glob("*.yaml"))) == 5
    keys = [line.split(": ")[1].split()[0] for line in lines]
    assert keys.index("identity-check") < keys.index("loan-approval")
    assert all(line.endswith("v1 new version -> published") for line in lines)
    assert set(ProcessVersion.objects.values_list("status", flat=True)) == {VersionStatus.PUBLISHED}


def test_loading_is_idempotent() -> None:
    load(str(DEMO_DIR), publish=True)
    out, _ = load(str(DEMO_DIR), publish=True)
    assert all(line.endswith("v1 unchanged (published)") for line in out.splitlines())
    assert ProcessVersion.objects.count() == 5


def test_changed_file_makes_a_new_draft(tmp_path: Path) -> None:
    file = tmp_path / "purchase.yaml"
    file.write_text(PURCHASE_SOURCE)
    load(str(file), publish=True)
    file.write_text(PURCHASE_SOURCE.replace("due: 2d", "due: 3d"))
    out, _ = load(str(file))
    assert out.strip() == f"{file}: purchase-approval v2 new version (draft)"


def test_invalid_file_is_reported_saves_nothing_and_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(PURCHASE_SOURCE)
    (tmp_path / "bad.yml").write_text(
        PURCHASE_SOURCE.replace("key: purchase-approval", "key: broken").replace(
            "next: manager_approval", "next: managr_approval"
        )
    )
    (tmp_path / "unparsable.json").write_text('{"key": ')
    err = StringIO()
    with pytest.raises(CommandError, match="2 of 3 files are invalid") as raised:
        call_command("load_definitions", str(tmp_path), stdout=StringIO(), stderr=err)
    assert raised.value.returncode == 1
    text = err.getvalue()
    assert f"{tmp_path / 'bad.yml'}: invalid, nothing saved" in text
    assert "  steps.route.branches[0].next: unknown step 'managr_approval'" in text
    assert f"{tmp_path / 'unparsable.json'}: invalid, nothing saved" in text
    assert list(ProcessDefinition.objects.values_list("key", flat=True)) == ["purchase-approval"]


def test_publish_rules_are_checked_before_anything_is_saved(tmp_path: Path, settings) -> None:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(CommandError):
        call_command(
            "load_definitions",
            str(DEMO_DIR / "loan-approval.yaml"),
            str(DEMO_DIR / "identity-check.yaml"),
            publish=True,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    # The loan approval calls a host outside the (empty) allowlist: not even a draft.
    assert list(ProcessDefinition.objects.values_list("key", flat=True)) == ["identity-check"]


def test_missing_path_is_an_error() -> None:
    with pytest.raises(CommandError, match=r"nope\.yaml: no such file or folder"):
        load("nope.yaml")


def test_export_prints_the_stored_source(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(PURCHASE_SOURCE)
    load(str(file), publish=True)
    file.write_text(PURCHASE_SOURCE.replace("due: 2d", "due: 3d"))
    load(str(file))
    newest, first = StringIO(), StringIO()
    call_command("export_definition", "purchase-approval", stdout=newest)
    call_command("export_definition", "purchase-approval", "--version", "1", stdout=first)
    assert first.getvalue() == PURCHASE_SOURCE
    assert "due: 3d" in newest.getvalue()
    with pytest.raises(CommandError, match="no definition 'purchase-approval' version 9"):
        call_command("export_definition", "purchase-approval", "--version", "9")
    with pytest.raises(CommandError, match="no definition 'nothing'"):
        call_command("export_definition", "nothing")


def test_export_then_load_round_trips(tmp_path: Path) -> None:
    load(str(DEMO_DIR), publish=True)
    out = StringIO()
    call_command("export_definition", "order-fulfillment", stdout=out)
    (tmp_path / "o.yaml").write_text(out.getvalue())
    again, _ = load(str(tmp_path / "o.yaml"))
    assert again.strip().endswith("order-fulfillment v1 unchanged (published)")
