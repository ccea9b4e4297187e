"""What drf-spectacular needs to describe the API (the key scheme, problem
answers) and the view that serves the document."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.keys.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made in the admin: `Authorization: Bearer pe_...`.",
        }


def problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """drf-spectacular postprocessing: every error answer is documented as
    application/problem+json, and every operation documents a `default` problem
    for the statuses no endpoint lists one by one (401, 405, 406, 413, 415,
    429...), so a client can rely on the error body whatever the status."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400 and "content" in response:
                    response["content"] = {"application/problem+json": {"schema": problem}}
            operation["responses"].setdefault(
                "default",
                {
                    "description": "An error (RFC 9457 problem details)",
                    "content": {"application/problem+json": {"schema": problem}},
                },
            )
    return result


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, built once per process (per version and language)
    under a lock. drf-spectacular keeps process-wide state while it builds the
    document that is not safe across threads (tfranzel/drf-spectacular#1368):
    the first concurrent requests under gunicorn's threads answered 500. The
    document changes only with a deploy, so it is served from memory after."""

    _lock = threading.Lock()
    _built: ClassVar[dict[tuple[Any, str], Any]] = {}

    def _get_schema_response(self, request: Any) -> Response:
        view: Any = self  # drf-spectacular's own helpers are untyped
        version = self.api_version or request.version or view._get_version_parameter(request)
        try:  # kept per language the site speaks; any other is built each time
            language = translation.get_supported_language_variant(translation.get_language() or "")
            known = True
        except LookupError:
            language, known = "", False
        with SchemaView._lock:
            data = SchemaView._built.get((version, language)) if known else None
            if data is None:
                generator: Any = self.generator_class(
                    urlconf=self.urlconf, api_version=version, patterns=self.patterns
                )
                data = generator.get_schema(request=request, public=self.serve_public)
                if known:
                    SchemaView._built[(version, language)] = data
        disposition = f'inline; filename="{view._get_filename(request, version)}"'
        return Response(data=data, headers={"Content-Disposition": disposition})
