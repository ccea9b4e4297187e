from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from orchestration.definitions.validate import schema


@require_GET
@cache_control(max_age=3600, public=True)
def definition_schema(request: HttpRequest) -> JsonResponse:
    """The JSON Schema of the definition format, for editors and CI linting."""
    return JsonResponse(schema(), json_dumps_params={"indent": 2})
