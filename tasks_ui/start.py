"""Starting a process from the browser: a form generated from the definition's
`variables`, checked by the same service as every other entry point."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import permissions
from orchestration import selectors, services
from orchestration.exceptions import InvalidInput, VersionNotFound
from orchestration.services.attachments import allowed_types
from tasks_ui.attachments import add_files
from tasks_ui.forms import bound_fields, errors_by_field, number
from tasks_ui.responses import person, refused


def _startable(user: Any) -> list[Any]:
    return [v for v in selectors.published_versions() if permissions.can_start(user, v.spec)]


@login_required
def start_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tasks_ui/start_list.html", {"versions": _startable(request.user)})


def _fields(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, decl in (spec.get("variables") or {}).items():
        kind = decl["type"]
        widget = {"number": "number", "integer": "number", "boolean": "checkbox",
                  "date": "date", "datetime": "datetime", "object": "json",
                  "array": "json"}.get(kind, "text")  # fmt: skip
        if "enum" in decl:
            widget = "choice"
        out.append({"name": name, "type": kind, "widget": widget, "decl": decl,
                    "label": decl.get("label") or name.replace("_", " ").capitalize(),
                    "required": bool(decl.get("required")) and "default" not in decl})  # fmt: skip
    return out


def posted_variables(
    fields: list[dict[str, Any]], posted: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed values from the form's strings; empty fields are left out (the
    definition's defaults and `required` then apply, in the service)."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        name, kind = field["name"], field["type"]
        if kind == "boolean":
            values[name] = posted.get(name) in {"on", "true", "1"}
            continue
        raw = str(posted.get(name, "")).strip()
        if raw == "":
            continue
        try:
            if kind == "integer":
                values[name] = int(raw)
            elif kind == "number":
                values[name] = number(raw)
            elif kind in {"object", "array"}:
                values[name] = json.loads(raw)
            elif "enum" in field["decl"] and not isinstance(field["decl"]["enum"][0], str):
                values[name] = json.loads(raw)  # a numeric choice
            else:
                values[name] = raw
        except ValueError:
            errors[name] = [f"expected {'JSON' if kind in {'object', 'array'} else kind}"]
    return values, errors


@require_http_methods(["GET", "POST"])
@login_required
def start_form(request: HttpRequest, key: str) -> HttpResponse:
    try:
        version = selectors.version_for_start(key=key, number=None)
    except VersionNotFound:
        raise Http404(f"No published process {key[:100]!r}.") from None
    refusal = permissions.start_refusal(request.user, version.spec)
    if refusal is not None:
        raise Http404(f"No published process {key[:100]!r} you may start.")
    fields = _fields(version.spec)
    context: dict[str, Any] = {
        "version": version,
        "fields": bound_fields(fields, {}, {}),
        "errors": {},
        "posted": {},
        "attachment_types": ", ".join(allowed_types()),
        "attachment_limit": settings.ORCHESTRATION_ATTACHMENT_MAX_BYTES,
    }
    if request.method == "GET":
        return render(request, "tasks_ui/start_form.html", context)
    values, errors = posted_variables(fields, request.POST)
    business_key = request.POST.get("business_key", "").strip()
    try:
        if errors:
            raise InvalidInput({f"variables.{k}": v for k, v in errors.items()})
        with transaction.atomic():  # a refused file starts nothing
            instance = services.instance_start(
                key=key,
                variables=values,
                actor=person(request),
                business_key=business_key,
            )
            add_files(request, instance_id=instance.pk)
    except InvalidInput as exc:
        by_field = errors_by_field(exc.errors, "variables")
        context.update(errors=by_field, posted=request.POST,
                       fields=bound_fields(fields, request.POST, by_field))  # fmt: skip
        return render(request, "tasks_ui/start_form.html", context, status=400)
    except Exception as exc:
        return refused(request, exc, fallback=reverse("tasks_ui:start-list"))
    messages.success(request, _("Started %(name)s: instance %(id)s.")
                     % {"name": version.definition.name, "id": instance.pk})  # fmt: skip
    return redirect("tasks_ui:instance", instance.pk)
