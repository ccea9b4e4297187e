"""Definitions and their versions: read, deploy a draft, publish."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import actor, etagged, require_scope, valid
from api.serializers import (
    ERRORS,
    DefinitionDetailSerializer,
    DefinitionSerializer,
    DeployedSerializer,
    DeploySerializer,
    MigrationResultSerializer,
    MigrationSerializer,
    PublishSerializer,
    VersionSerializer,
)
from orchestration import services
from orchestration.engine.variables import variables_json_schema
from orchestration.models import ProcessDefinition, ProcessVersion
from orchestration.states import VersionStatus


def _version(version: ProcessVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "status": version.status,
        "content_hash": version.content_hash,
        "created_at": version.created_at,
        "published_at": version.published_at,
    }


def _published(versions: list[ProcessVersion]) -> ProcessVersion | None:
    live = [v for v in versions if v.status == VersionStatus.PUBLISHED]
    return max(live, key=lambda v: v.number) if live else None


def _visible(request: Request) -> list[ProcessDefinition]:
    """The definitions the caller may read: every one for process admins,
    operators and auditors; for others, those whose published version they
    may start. Within the key's definitions."""
    rows = (
        ProcessDefinition.objects.filter(permissions.api_definitions_q(request.auth))
        .prefetch_related(Prefetch("versions", queryset=ProcessVersion.objects.order_by("number")))
        .order_by("key")
    )
    return [
        definition
        for definition in rows
        if permissions.can_read_definition(
            request.user, _published(list(definition.versions.all()))
        )
    ]


def _definition(definition: ProcessDefinition, *, detail: bool) -> dict[str, Any]:
    versions = list(definition.versions.all())
    live = _published(versions)
    data: dict[str, Any] = {
        "key": definition.key,
        "name": definition.name,
        "published_version": live.number if live else None,
        "versions": [_version(v) for v in versions],
    }
    if detail:
        data["variables_schema"] = variables_json_schema(live.spec) if live else None
    return data


class DefinitionList(APIView):
    @extend_schema(
        responses={200: DefinitionSerializer(many=True), **ERRORS},
        summary="Definitions the caller may read",
    )
    def get(self, request: Request) -> Response:
        require_scope(request, "definitions:read")
        return Response([_definition(d, detail=False) for d in _visible(request)])


class DefinitionDetail(APIView):
    @extend_schema(
        responses={200: DefinitionDetailSerializer, 304: None, **ERRORS},
        summary="A definition, its versions and the JSON Schema of its variables",
    )
    def get(self, request: Request, key: str) -> Response:
        require_scope(request, "definitions:read", key)
        for definition in _visible(request):
            if definition.key == key:
                return etagged(request, _definition(definition, detail=True))
        raise Http404


class VersionDeploy(APIView):
    @extend_schema(
        request=DeploySerializer,
        responses={201: DeployedSerializer, 200: DeployedSerializer, **ERRORS},
        summary="Deploy a draft version (YAML or JSON); errors per path",
    )
    def post(self, request: Request, key: str) -> Response:
        require_scope(request, "definitions:deploy", key)
        body = valid(DeploySerializer, request.data)
        source = body.get("source")
        if source is None:
            source = json.dumps(body["definition"], indent=2)
        result = services.version_save_draft(source=source, actor=actor(request), expected_key=key)
        data = {**_version(result.version), "definition": key, "changed": result.changed}
        return Response(data, status=201 if result.changed else 200)


class DefinitionMigration(APIView):
    @extend_schema(
        request=MigrationSerializer,
        responses={200: MigrationResultSerializer, **ERRORS},
        summary="Move live instances to another version (dry_run: what each would do)",
    )
    def post(self, request: Request, key: str) -> Response:
        require_scope(request, "instances:operate", key)
        if not ProcessDefinition.objects.filter(key=key).exists():
            raise Http404
        body = valid(MigrationSerializer, request.data)
        args = {"key": key, "source": body["from"], "target": body["to"], "mapping": body["map"],
                "actor": actor(request)}  # fmt: skip
        plan = services.instance_migration_plan(**args)
        moved = [] if body["dry_run"] else services.instance_migrate(**args)
        return Response({"dry_run": body["dry_run"], "moved": moved, "plan": plan})


class VersionPublish(APIView):
    @extend_schema(
        request=PublishSerializer,
        responses={200: VersionSerializer, **ERRORS},
        summary="Publish a version",
    )
    def post(self, request: Request, key: str, number: int) -> Response:
        require_scope(request, "definitions:publish", key)
        body = valid(PublishSerializer, request.data)
        version = (
            ProcessVersion.objects.select_related("definition")
            .filter(definition__key=key, number=number)
            .first()
        )
        if version is None or not permissions.can_view_definitions(request.user):
            raise Http404
        published = services.version_publish(
            version=version, actor=actor(request), reason=body["reason"]
        )
        return Response(_version(published))
