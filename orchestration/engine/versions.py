"""The engine's one cache of versions, and which version a key starts on.

Instances run only on published (or deprecated) versions, which never change, so
a version and its compiled definition are read once per process. Which version
a new instance of a key runs is remembered for a second. Tests clear all of it
(ids are reused after a rolled-back test transaction).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from orchestration.engine import core
from orchestration.exceptions import VersionNotFound
from orchestration.models import ProcessInstance, ProcessVersion
from orchestration.states import VersionStatus

_definitions: dict[int, core.Definition] = {}
_versions: dict[int, ProcessVersion] = {}


def clear_caches() -> None:
    _definitions.clear()
    _versions.clear()
    _start_cache.clear()


def definition_of(version: ProcessVersion) -> core.Definition:
    """The compiled definition of a version (cached: versions that run are immutable)."""
    found = _definitions.get(version.pk)
    if found is None:
        found = _definitions[version.pk] = core.Definition(version.spec)
    return found


def cached_version(pk: int) -> ProcessVersion:
    """A version with its definition, read once per process."""
    version = _versions.get(pk)
    if version is None:
        version = ProcessVersion.objects.select_related("definition").get(pk=pk)
        _versions[pk] = version
    return version


def attach_versions(instances: Iterable[ProcessInstance]) -> None:
    """Give instances their version from the cache, so the spec is read and parsed
    once per process instead of once per row."""
    instances = list(instances)
    missing = {i.version_id for i in instances} - set(_versions)
    if missing:
        for version in ProcessVersion.objects.select_related("definition").filter(pk__in=missing):
            _versions[version.pk] = version
    for instance in instances:
        instance.version = _versions[instance.version_id]


_START_CACHE_SECONDS = 1.0
_start_cache: dict[tuple[str, int | None], tuple[float, int]] = {}


def version_for_start(*, key: str, number: int | None = None) -> ProcessVersion:
    """The version a new instance of `key` runs: the newest published one, or the
    pinned `number` if that one is published or deprecated.

    Raises VersionNotFound otherwise (retired and draft versions start nothing).
    Which version that is, is remembered for a second per process: starting is
    the hottest path, and a publish then reaches every process within a second
    (at once in the process that published). Versions themselves are immutable.
    """
    now = time.monotonic()
    hit = _start_cache.get((key, number))
    if hit is not None and now - hit[0] < _START_CACHE_SECONDS:
        return cached_version(hit[1])
    versions = ProcessVersion.objects.filter(definition__key=key)
    if number is None:
        pk = (
            versions.filter(status=VersionStatus.PUBLISHED)
            .order_by("-number")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise VersionNotFound(f"{key!r} has no published version")
    else:
        pk = (
            versions.filter(
                number=number, status__in=[VersionStatus.PUBLISHED, VersionStatus.DEPRECATED]
            )
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise VersionNotFound(f"{key!r} has no published or deprecated version {number}")
    _start_cache[(key, number)] = (now, pk)
    return cached_version(pk)


def forget_started_versions() -> None:
    """Called when a version's status changes (and by tests)."""
    _start_cache.clear()
