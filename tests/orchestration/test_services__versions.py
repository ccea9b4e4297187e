"""Versions: drafts, publishing, immutability, audit, and which version starts."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from orchestration import selectors, services
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.exceptions import (
    AppendOnly,
    ImmutableVersion,
    TransitionNotAllowed,
    VersionNotFound,
)
from orchestration.models import ProcessDefinition, ProcessEvent, ProcessVersion
from orchestration.states import VersionStatus
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db

EDITED = PURCHASE_SOURCE.replace("due: 2d", "due: 3d")


def publish(source: str = PURCHASE_SOURCE) -> ProcessVersion:
    draft = services.version_save_draft(source=source, actor=None).version
    return services.version_publish(version=draft, actor=None)


def test_first_save_creates_definition_and_draft_v1(process_admin) -> None:
    result = services.version_save_draft(source=PURCHASE_SOURCE, actor=process_admin)
    version = result.version
    assert result.changed
    assert (version.definition.key, version.number, version.status) == (
        "purchase-approval",
        1,
        VersionStatus.DRAFT,
    )
    assert version.definition.name == "Purchase approval"
    assert version.spec["steps"]["route"]["default"] == "auto_approved"
    assert version.source == PURCHASE_SOURCE
    event = ProcessEvent.objects.get()
    assert (event.kind, event.actor, event.version) == (
        "version.draft_created",
        process_admin,
        version,
    )


def test_identical_content_makes_no_new_version() -> None:
    first = services.version_save_draft(source=PURCHASE_SOURCE, actor=None)
    # Comments and formatting are not content.
    again = services.version_save_draft(
        source=PURCHASE_SOURCE.replace("# slug; stable across versions", ""), actor=None
    )
    assert not again.changed and again.version == first.version
    assert ProcessVersion.objects.count() == 1
    assert ProcessEvent.objects.count() == 1


def test_saving_again_replaces_the_draft() -> None:
    first = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    second = services.version_save_draft(source=EDITED, actor=None).version
    assert second.pk == first.pk and second.number == 1
    assert second.spec["steps"]["manager_approval"]["due"] == "3d"


def test_after_publishing_a_change_makes_draft_v2() -> None:
    v1 = publish()
    v2 = services.version_save_draft(source=EDITED, actor=None).version
    assert (v2.number, v2.status) == (2, VersionStatus.DRAFT)
    v1.refresh_from_db()
    assert v1.status == VersionStatus.PUBLISHED and v1.source == PURCHASE_SOURCE


def test_invalid_source_saves_nothing() -> None:
    bad = PURCHASE_SOURCE.replace("next: manager_approval", "next: managr_approval")
    with pytest.raises(DefinitionInvalid) as raised:
        services.version_save_draft(source=bad, actor=None)
    assert "steps.route.branches[0].next: unknown step 'managr_approval'" in raised.value.messages
    assert not ProcessDefinition.objects.exists()
    assert not ProcessVersion.objects.exists()
    assert not ProcessEvent.objects.exists()


def test_key_cannot_change_when_editing_a_draft() -> None:
    services.version_save_draft(source=PURCHASE_SOURCE, actor=None)
    with pytest.raises(DefinitionInvalid) as raised:
        services.version_save_draft(
            source=PURCHASE_SOURCE.replace("key: purchase-approval", "key: other"),
            actor=None,
            expected_key="purchase-approval",
        )
    assert raised.value.messages == ["key: must stay 'purchase-approval': keys never change"]


def test_published_version_is_immutable_in_the_model_layer() -> None:
    version = publish()
    version.source = EDITED
    with pytest.raises(ImmutableVersion):
        version.save()
    with pytest.raises(ImmutableVersion):
        ProcessVersion.objects.filter(pk=version.pk).update(source="x")
    with pytest.raises(ImmutableVersion):
        ProcessVersion.objects.filter(pk=version.pk).update(status=VersionStatus.DRAFT)
    with pytest.raises(ImmutableVersion):
        version.delete()
    with pytest.raises(ImmutableVersion):
        ProcessVersion.objects.all().delete()
    version.refresh_from_db()
    assert version.source == PURCHASE_SOURCE


def test_a_published_versions_spec_is_as_immutable_as_its_source() -> None:
    version = publish()
    spec = version.spec
    version.spec = {**spec, "name": "Renamed behind the source's back"}
    with pytest.raises(ImmutableVersion, match=r"cannot be changed \(spec\)"):
        version.save()
    with pytest.raises(ImmutableVersion):
        ProcessVersion.objects.filter(pk=version.pk).update(spec={})
    with pytest.raises(ImmutableVersion, match="status only"):
        ProcessVersion.objects.filter(pk=version.pk).update_status(
            status=VersionStatus.DEPRECATED, spec={}
        )
    version.refresh_from_db()
    assert version.spec == spec and version.status == VersionStatus.PUBLISHED


def test_status_is_not_writable_by_save() -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    draft.status = VersionStatus.PUBLISHED
    with pytest.raises(ImmutableVersion):
        draft.save()


def test_lifecycle_and_audit(process_admin) -> None:
    version = publish()
    assert version.published_at is not None
    services.version_deprecate(version=version, actor=process_admin, reason="superseded")
    services.version_retire(version=version, actor=process_admin)
    with pytest.raises(TransitionNotAllowed, match="cannot go from retired to published"):
        services.version_publish(version=version, actor=process_admin)
    kinds = list(ProcessEvent.objects.values_list("kind", "from_status", "to_status"))
    assert kinds == [
        ("version.draft_created", "", "draft"),
        ("version.published", "draft", "published"),
        ("version.deprecated", "published", "deprecated"),
        ("version.retired", "deprecated", "retired"),
    ]
    assert ProcessEvent.objects.get(kind="version.deprecated").reason == "superseded"


def test_events_are_append_only() -> None:
    publish()
    event = ProcessEvent.objects.first()
    event.reason = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    # In bulk too, the legacy outbox stamp included.
    with pytest.raises(AppendOnly):
        ProcessEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        ProcessEvent.objects.all().delete()
    with pytest.raises(AppendOnly):
        ProcessEvent.objects.filter(pk=event.pk).update(dispatched_at=event.created_at)
    event.refresh_from_db()
    assert event.reason == "" and event.dispatched_at is None


def test_only_publishers_may_publish(approver, process_admin) -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=process_admin).version
    with pytest.raises(PermissionDenied):
        services.version_publish(version=draft, actor=approver)
    with pytest.raises(PermissionDenied):
        services.version_save_draft(source=EDITED, actor=approver)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    services.version_publish(version=draft, actor=process_admin)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED and draft.published_by == process_admin


def test_publish_checks_the_http_allowlist(settings) -> None:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["api.example.com"]
    source = """
key: call-out
name: Call out
start: call
steps:
  call:
    type: http
    request: {method: GET, url: "https://evil.example.org/x"}
    next: done
  done: {type: end}
"""
    draft = services.version_save_draft(source=source, actor=None).version
    with pytest.raises(DefinitionInvalid) as raised:
        services.version_publish(version=draft, actor=None)
    assert raised.value.messages == [
        "steps.call.request.url: host 'evil.example.org:443' is not in "
        "ORCHESTRATION_HTTP_ALLOWED_HOSTS"
    ]
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_publish_needs_published_subprocess_definitions() -> None:
    child = """
key: child
name: Child
start: done
steps: {done: {type: end}}
"""
    parent = """
key: parent
name: Parent
start: sub
steps:
  sub: {type: subprocess, definition: child, next: done}
  done: {type: end}
"""
    child_draft = services.version_save_draft(source=child, actor=None).version
    parent_draft = services.version_save_draft(source=parent, actor=None).version
    with pytest.raises(DefinitionInvalid) as raised:
        services.version_publish(version=parent_draft, actor=None)
    assert raised.value.messages == [
        "steps.sub.definition: definition 'child' has no published version"
    ]
    services.version_publish(version=child_draft, actor=None)
    services.version_publish(version=parent_draft, actor=None)


def test_one_draft_per_definition_is_a_database_constraint() -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcessVersion.objects.create(
            definition=draft.definition, number=2, source="", spec={}, content_hash="x"
        )


def test_new_instances_use_the_latest_published_version_unless_pinned() -> None:
    with pytest.raises(VersionNotFound):
        selectors.version_for_start(key="purchase-approval")
    v1 = publish()
    v2 = publish(EDITED)
    services.version_save_draft(source=EDITED.replace("due: 3d", "due: 4d"), actor=None)  # v3 draft
    assert selectors.version_for_start(key="purchase-approval") == v2
    assert selectors.version_for_start(key="purchase-approval", number=1) == v1
    services.version_deprecate(version=v1, actor=None)
    assert selectors.version_for_start(key="purchase-approval", number=1) == v1
    services.version_retire(version=v1, actor=None)
    with pytest.raises(VersionNotFound):
        selectors.version_for_start(key="purchase-approval", number=1)
    with pytest.raises(VersionNotFound):
        selectors.version_for_start(key="purchase-approval", number=3)  # a draft


def test_publishing_a_new_version_leaves_the_old_one_alone() -> None:
    v1 = publish()
    before = ProcessVersion.objects.filter(pk=v1.pk).values().get()
    publish(EDITED)
    assert ProcessVersion.objects.filter(pk=v1.pk).values().get() == before
