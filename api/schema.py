"""What drf-spectacular needs to describe the API key scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
