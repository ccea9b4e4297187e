"""A stand-in credit bureau API that the demo loan approval's http step calls."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt  # a machine-to-machine JSON endpoint; no cookies are involved
@require_POST
def credit_score(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
        applicant = str(body["applicant"]).strip()
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"code": "bad_request", "detail": "applicant is required"}, status=400)
    if not applicant or applicant.lower() == "nobody":
        return JsonResponse(
            {"code": "applicant_unknown", "detail": "no such applicant"}, status=404
        )
    # A stable pseudo-score per applicant, so the demo is repeatable.
    score = 300 + int(hashlib.sha256(applicant.lower().encode()).hexdigest(), 16) % 551
    return JsonResponse({"applicant": applicant, "score": score})
