"""Reads for definitions and versions."""

from __future__ import annotations

from django.db.models import QuerySet

from orchestration.exceptions import VersionNotFound
from orchestration.models import ProcessDefinition, ProcessVersion
from orchestration.states import VersionStatus


def version_for_start(*, key: str, number: int | None = None) -> ProcessVersion:
    """The version a new instance of `key` runs: the newest published one, or the
    pinned `number` if that one is published or deprecated.

    Raises VersionNotFound otherwise (retired and draft versions start nothing).
    """
    versions = ProcessVersion.objects.select_related("definition").filter(definition__key=key)
    if number is None:
        version = versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()
        if version is None:
            raise VersionNotFound(f"{key!r} has no published version")
        return version
    try:
        return versions.get(
            number=number, status__in=[VersionStatus.PUBLISHED, VersionStatus.DEPRECATED]
        )
    except ProcessVersion.DoesNotExist:
        raise VersionNotFound(f"{key!r} has no published or deprecated version {number}") from None


def version_previous(version: ProcessVersion) -> ProcessVersion | None:
    return (
        ProcessVersion.objects.filter(
            definition_id=version.definition_id, number__lt=version.number
        )
        .order_by("-number")
        .first()
    )


def definition_list_published() -> QuerySet[ProcessDefinition]:
    """Definitions that can start instances, newest published version number annotated."""
    from django.db.models import Max, Q

    return (
        ProcessDefinition.objects.annotate(
            published_number=Max(
                "versions__number", filter=Q(versions__status=VersionStatus.PUBLISHED)
            )
        )
        .filter(published_number__isnull=False)
        .order_by("name")
    )
