"""Every error under /api/ is an RFC 9457 problem (application/problem+json)
with the stable `code` of the one error map (orchestration.problems) and, for
bad input, the errors per field path. Never an HTML page, never a 500 for
bad input."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response

from orchestration.problems import Problem, problem_for

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "the request body is too large"
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    """A request that cannot act on the state it met (see its code)."""

    status_code = 409
    default_code = "conflict"

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail, code)
        self.problem_code = code


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_code = "unprocessable"

    def __init__(self, detail: str, code: str = "unprocessable") -> None:
        super().__init__(detail, code)
        self.problem_code = code


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "throttled",
}


def _paths(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as {"field.sub.0": [messages]}."""
    if isinstance(detail, dict):
        found: dict[str, list[str]] = {}
        for name, inner in detail.items():
            name = "" if name == "non_field_errors" else str(name)
            found.update(_paths(inner, f"{prefix}.{name}" if prefix and name else prefix or name))
        return found
    if isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        return {prefix or "": [str(d) for d in detail]}
    if isinstance(detail, list):
        found = {}
        for index, inner in enumerate(detail):
            if inner:
                found.update(_paths(inner, f"{prefix}.{index}" if prefix else str(index)))
        return found
    return {prefix or "": [str(detail)]}


def problem_of(exc: BaseException) -> Problem | None:
    """The Problem for anything a view may raise that is not a bug."""
    if isinstance(exc, exceptions.ValidationError):
        return Problem(400, "invalid_input", gettext("the input is not valid"), _paths(exc.detail))
    if isinstance(exc, Conflict | Unprocessable):
        return Problem(exc.status_code, exc.problem_code, str(exc.detail))
    if isinstance(exc, PayloadTooLarge):
        return Problem(413, "payload_too_large", str(exc.detail))
    for kind, code in _DRF_CODES.items():
        if isinstance(exc, kind):
            return Problem(exc.status_code, code, str(exc.detail))
    if isinstance(exc, Http404):
        return Problem(404, "not_found", gettext("not found, or not one you may see"))
    if isinstance(exc, RequestDataTooBig):
        return Problem(413, "payload_too_large", gettext("the request body is too large"))
    if isinstance(exc, SuspiciousOperation):
        return Problem(400, "bad_request", gettext("the request was refused"))
    if isinstance(exc, DjangoPermissionDenied) and not str(exc):
        return Problem(403, "permission_denied", gettext("not allowed"))
    return problem_for(exc)


def body_of(problem: Problem, instance: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:process-engine:problem:{problem.code}",
        "title": problem.code.replace("_", " ").capitalize(),
        "status": problem.status,
        "detail": problem.message,
        "code": problem.code,
    }
    if instance:
        body["instance"] = instance
    if problem.errors:
        body["errors"] = problem.errors
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: a problem for every known error; None (a bug,
    answered by ApiProblemMiddleware) otherwise."""
    problem = problem_of(exc)
    if problem is None:
        return None
    request = context.get("request")
    response = Response(
        body_of(problem, request.path if request is not None else ""),
        status=problem.status,
        content_type=PROBLEM_TYPE,
    )
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        response["Retry-After"] = str(int(wait) + 1)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def problem_response(problem: Problem, path: str) -> HttpResponse:
    return HttpResponse(
        json.dumps(body_of(problem, path)), status=problem.status, content_type=PROBLEM_TYPE
    )


class ApiProblemMiddleware:
    """Under /api/: Django's own error answers (an unknown URL, a body too
    large, a bug) become problems too, so a client never parses HTML."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith(PROBLEM_TYPE)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            code = {
                404: "not_found",
                405: "method_not_allowed",
                403: "permission_denied",
                400: "bad_request",
                413: "payload_too_large",
            }.get(response.status_code, "server_error")
            text = "not found, or not one you may see" if code == "not_found" else code
            if response.status_code == 403:
                text = "CSRF check failed or not allowed (send a Bearer key, or the CSRF token)"
            return problem_response(Problem(response.status_code, code, text), request.path)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        problem = problem_of(exc)
        if problem is None:
            log.exception("unhandled error on %s %s", request.method, request.path)
            problem = Problem(
                status.HTTP_500_INTERNAL_SERVER_ERROR,
                "server_error",
                "the server failed; the error is logged",
            )
        return problem_response(problem, request.path)
