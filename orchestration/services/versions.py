"""Writes for definitions and versions. Every entry point (admin, commands, API)
goes through these functions; each runs in one transaction and audits itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from accounts import permissions
from orchestration import clock, handlers, sensitive
from orchestration.audit import AuditKind
from orchestration.definitions.errors import DefinitionError, DefinitionInvalid
from orchestration.definitions.graph import all_steps
from orchestration.definitions.locate import explain
from orchestration.definitions.parse import content_hash, parse_source
from orchestration.definitions.validate import Context, validate
from orchestration.models import ProcessDefinition, ProcessEvent, ProcessVersion
from orchestration.states import VersionStatus, transition_version

if TYPE_CHECKING:
    from collections.abc import Collection

    from accounts.models import User


def validation_context(
    *, extra_definitions: Collection[str] = (), for_publish: bool = False
) -> Context:
    """What a definition is checked against here: registered handlers and resolvers,
    existing definitions; publishing adds the HTTP allowlist and published children."""
    keys = set(ProcessDefinition.objects.values_list("key", flat=True)) | set(extra_definitions)
    published = calls = None
    if for_publish:
        published = set(
            ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED).values_list(
                "definition__key", flat=True
            )
        )
        calls = subprocess_calls()
    return Context(
        handlers=handlers.handler_names(),
        resolvers=handlers.resolver_names(),
        definitions=keys,
        allowed_hosts=settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS if for_publish else None,
        published_definitions=published,
        subprocess_calls=calls,
        secrets=settings.ORCHESTRATION_SECRETS if for_publish else None,
        encryption=sensitive.configured() if for_publish else None,
    )


def subprocess_calls() -> dict[str, set[str]]:
    """Definition key -> keys that any of its live (published or deprecated)
    versions starts as a sub-process."""
    calls: dict[str, set[str]] = {}
    live = ProcessVersion.objects.filter(
        status__in=[VersionStatus.PUBLISHED, VersionStatus.DEPRECATED]
    ).values_list("definition__key", "spec")
    for key, spec in live:
        calls.setdefault(key, set()).update(
            step["definition"] for step in all_steps(spec).values() if step["type"] == "subprocess"
        )
    return calls


@dataclass(frozen=True)
class DraftResult:
    version: ProcessVersion
    changed: bool  # False when the content was identical: nothing was written


def draft_errors(
    source: str, *, extra_definitions: Collection[str] = (), expected_key: str | None = None
) -> tuple[dict[str, Any] | None, list[DefinitionError]]:
    """(parsed definition, every error) for a draft source; the admin form shows
    these inline and version_save_draft refuses on them."""
    try:
        spec = parse_source(source)
    except DefinitionInvalid as exc:
        return None, explain(source, exc.errors)
    errors = validate(spec, validation_context(extra_definitions=extra_definitions))
    if not errors and expected_key is not None and spec["key"] != expected_key:
        errors = [DefinitionError("key", f"must stay {expected_key!r}: keys never change")]
    return spec, explain(source, errors)


def version_save_draft(
    *,
    source: str,
    actor: User | None,
    extra_definitions: Collection[str] = (),
    expected_key: str | None = None,
    allow_identical: bool = False,
) -> DraftResult:
    """Validate `source` and store it as the definition's draft.

    Creates the definition on first sight of its key. Identical content to the
    newest version writes nothing (changed=False), unless `allow_identical` asks
    for a fresh draft copied from a published version. Otherwise the existing draft
    is replaced, or a new draft numbered after the newest version is created.
    Raises DefinitionInvalid (nothing saved) or PermissionDenied.
    """
    permissions.require(actor, permissions.edit_refusal(actor))
    spec, errors = draft_errors(
        source, extra_definitions=extra_definitions, expected_key=expected_key
    )
    if errors or spec is None:
        raise DefinitionInvalid(errors)
    digest = content_hash(spec)
    with transaction.atomic():
        definition, _ = ProcessDefinition.objects.get_or_create(
            key=spec["key"], defaults={"name": spec["name"]}
        )
        # The definition row lock serialises version numbering and the one-draft rule.
        definition = ProcessDefinition.objects.select_for_update().get(pk=definition.pk)
        newest = definition.versions.order_by("-number").first()
        if (
            newest is not None
            and newest.content_hash == digest
            and (newest.is_draft or not allow_identical)
        ):
            return DraftResult(newest, changed=False)
        now = clock.now()
        if newest is not None and newest.is_draft:
            version = newest
            version.source, version.spec, version.content_hash = source, spec, digest
            version.updated_at = now
            version.save(update_fields=["source", "spec", "content_hash", "updated_at"])
            kind = AuditKind.VERSION_DRAFT_UPDATED
        else:
            number = (definition.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = ProcessVersion.objects.create(
                definition=definition, number=number, source=source, spec=spec,
                content_hash=digest, created_by=actor, created_at=now, updated_at=now,
            )  # fmt: skip
            kind = AuditKind.VERSION_DRAFT_CREATED
        definition.name = spec["name"]
        definition.updated_at = now
        definition.save(update_fields=["name", "updated_at"])
        ProcessEvent.objects.create(
            kind=kind, actor=actor, definition=definition, version=version,
            to_status=VersionStatus.DRAFT, payload={"content_hash": digest}, created_at=now,
        )  # fmt: skip
    return DraftResult(version, changed=True)


def _locked(version: ProcessVersion) -> ProcessVersion:
    """Lock the definition row, then the version row.

    Every writer takes the definition lock first; taking the version first
    deadlocked against version_save_draft (tests/orchestration/test_concurrency__versions.py).
    """
    ProcessDefinition.objects.select_for_update().filter(pk=version.definition_id).get()
    return (
        ProcessVersion.objects.select_for_update().select_related("definition").get(pk=version.pk)
    )


def version_publish(
    *, version: ProcessVersion, actor: User | None, reason: str = ""
) -> ProcessVersion:
    """Publish a draft (or re-publish a deprecated version).

    Re-validates with the publish-time rules (HTTP allowlist, published
    subprocess definitions). Instances already running on other versions are
    not touched. Raises DefinitionInvalid, TransitionNotAllowed, PermissionDenied.
    """
    permissions.require(actor, permissions.publish_refusal(actor))
    with transaction.atomic():
        locked = _locked(version)
        errors = validate(locked.spec, validation_context(for_publish=True))
        if errors:
            raise DefinitionInvalid(errors)
        transition_version(locked, VersionStatus.PUBLISHED, actor=actor, reason=reason)
        _forget_started_versions()
    return locked


def _move(
    version: ProcessVersion, to: VersionStatus, *, actor: User | None, reason: str
) -> ProcessVersion:
    permissions.require(actor, permissions.publish_refusal(actor))
    with transaction.atomic():
        locked = _locked(version)
        transition_version(locked, to, actor=actor, reason=reason)
        _forget_started_versions()
    return locked


def _forget_started_versions() -> None:
    """This process starts on the new status at once, others within a second.
    (Clearing early is harmless if the transaction rolls back: it refills.)"""
    from orchestration.engine.versions import forget_started_versions

    forget_started_versions()


def version_deprecate(
    *, version: ProcessVersion, actor: User | None, reason: str = ""
) -> ProcessVersion:
    """Deprecate: running instances go on, new ones start only when pinned to it.
    Raises TransitionNotAllowed, PermissionDenied."""
    return _move(version, VersionStatus.DEPRECATED, actor=actor, reason=reason)


def version_retire(
    *, version: ProcessVersion, actor: User | None, reason: str = ""
) -> ProcessVersion:
    """Retire a deprecated version: nothing new starts on it. Raises
    TransitionNotAllowed, PermissionDenied."""
    return _move(version, VersionStatus.RETIRED, actor=actor, reason=reason)


def version_delete_draft(*, version: ProcessVersion, actor: User | None) -> None:
    """Throw a draft away (audited). Raises ImmutableVersion for any other status."""
    permissions.require(actor, permissions.edit_refusal(actor, version))
    with transaction.atomic():
        locked = _locked(version)
        ProcessEvent.objects.create(
            kind=AuditKind.VERSION_DRAFT_DELETED, actor=actor, definition=locked.definition,
            from_status=locked.status, payload={"number": locked.number},
        )  # fmt: skip
        locked.delete()
