"""Django admin is the definition editor: YAML drafts with inline validation,
a diagram, a diff against the previous version, and publish/deprecate/retire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts import permissions
from orchestration import selectors, sensitive, services
from orchestration.definitions import gallery
from orchestration.definitions.allowlist import host_allowed
from orchestration.definitions.diagram import render_svg
from orchestration.definitions.diff import source_diff_html
from orchestration.definitions.validate import schema as definition_schema
from orchestration.engine.state import current_steps
from orchestration.models import (
    WEBHOOK_EVENTS,
    HumanTask,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessVersion,
    StepRun,
    SweepFailure,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from orchestration.problems import problem_for
from orchestration.side_effects import webhooks
from orchestration.states import InstanceStatus, VersionStatus


# A scrolling box reachable from the keyboard (axe: scrollable-region-focusable).
def _diagram_box(svg: str) -> SafeString:
    # render_svg escapes every user-written text it draws.
    return format_html(
        '<div class="diagram" tabindex="0" role="region" aria-label="{}">{}</div>',
        gettext("Process diagram"),
        mark_safe(svg),  # noqa: S308 - escaped inside
    )


def report_problem(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    subject: str,
    exc: Exception,
) -> None:
    """Tell the user what went wrong, in the words of the one error map; anything
    that is not a domain error is a bug and propagates."""
    problem = problem_for(exc)
    if problem is None:
        raise exc
    if problem.errors:
        lines = format_html_join(
            "", "<li>{}: {}</li>", ((k, m) for k, ms in problem.errors.items() for m in ms)
        )
        text = format_html("{}: {}<ul>{}</ul>", subject, problem.message, lines)
        model_admin.message_user(request, text, messages.ERROR)
    else:
        model_admin.message_user(request, f"{subject}: {problem.message}", messages.ERROR)


# Session key for an edit kept when Publish was pressed before Save.
_UNSAVED = "orchestration:unsaved-source:{}"

STATUS_ACTIONS = {
    "_deprecate": (services.version_deprecate, gettext_lazy("%(version)s deprecated.")),
    "_retire": (services.version_retire, gettext_lazy("%(version)s retired.")),
}


def _named(version: ProcessVersion) -> str:
    return f"{version.definition.key} v{version.number}"


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows only the services write: the admin shows them and never edits them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionForm(forms.ModelForm):  # type: ignore[type-arg]
    source = forms.CharField(
        label=gettext_lazy("Definition (YAML or JSON)"),
        widget=forms.Textarea(
            attrs={
                "rows": 32,
                "cols": 100,
                "spellcheck": "false",
                "class": "definition-source",
                "data-definition-editor": "",
                "data-schema": "definition-schema",
            }
        ),
    )

    class Meta:
        model = ProcessVersion
        fields = ["source"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].help_text = format_html(
            gettext(
                'Every field is described in the <a href="{}">definition reference</a>'
                " (docs/definitions.md); the editor completes field names and marks errors"
                " as you type."
            ),
            reverse("admin:orchestration_processversion_reference"),
        )
        self.fields["source"].widget.attrs["data-label"] = gettext("Definition (YAML or JSON)")
        self.fields["source"].widget.attrs["data-validate"] = reverse(
            "admin:orchestration_processversion_validate"
        )

    def clean_source(self) -> str:
        source: str = self.cleaned_data["source"]
        expected = self.instance.definition.key if self.instance.pk else None
        _, errors = services.draft_errors(source, expected_key=expected)
        if errors:
            # In reading order, each at its line (draft_errors located them).
            raise ValidationError([e.located() for e in errors])
        return source


@admin.register(ProcessVersion)
class ProcessVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = VersionForm
    list_display = ("definition", "number", "status", "created_at", "published_at")
    list_filter = ("status", "definition")
    search_fields = ("definition__key", "definition__name")
    list_select_related = ("definition",)
    # Publishing is one version at a time, with its diff and a reason (publish_view).
    actions = ["deprecate_selected"]
    change_form_template = "admin/orchestration/processversion/change_form.html"

    # ---- fields -------------------------------------------------------------------
    def get_fields(  # type: ignore[override]
        self, request: HttpRequest, obj: ProcessVersion | None = None
    ) -> list[str]:
        if obj is None:
            return ["source"]
        fields = ["definition", "number", "status", "created_by", "published_at", "published_by"]
        source = "source" if permissions.can_edit_draft(request.user, obj) else "source_text"
        return [*fields, source, "diagram", "changes"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: ProcessVersion | None = None
    ) -> list[str]:
        fixed = ["definition", "number", "status", "created_by", "published_at", "published_by",
                 "source_text", "diagram", "changes"]  # fmt: skip
        return fixed

    @admin.display(description=gettext_lazy("Definition"))
    def source_text(self, obj: ProcessVersion) -> SafeString:
        return format_html('<pre class="definition-source" tabindex="0">{}</pre>', obj.source)

    @admin.display(description=gettext_lazy("Diagram"))
    def diagram(self, obj: ProcessVersion) -> SafeString:
        return _diagram_box(render_svg(obj.spec))

    @admin.display(description=gettext_lazy("Changes from the previous version"))
    def changes(self, obj: ProcessVersion) -> SafeString | str:
        previous = selectors.version_previous(obj)
        if previous is None:
            return gettext("This is the first version.")
        table = source_diff_html(
            previous.source,
            obj.source,
            old_label=f"v{previous.number} ({previous.get_status_display()})",
            new_label=f"v{obj.number}",
        )
        if not table:
            return gettext("Same source as the previous version.")
        # HtmlDiff escapes the source lines; the labels are ours.
        return mark_safe(f'<div class="version-diff">{table}</div>')  # noqa: S308

    # ---- permissions ----------------------------------------------------------------
    def has_change_permission(
        self, request: HttpRequest, obj: ProcessVersion | None = None
    ) -> bool:
        # Non-drafts open read-only (view permission); publishing has its own check.
        return (
            permissions.can_edit_draft(request.user, obj)
            if obj
            else super().has_change_permission(request)
        )

    def has_delete_permission(
        self, request: HttpRequest, obj: ProcessVersion | None = None
    ) -> bool:
        return obj is not None and permissions.can_edit_draft(request.user, obj)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return permissions.can_publish(request.user)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # ---- saving through the services ----------------------------------------------
    def save_model(
        self, request: HttpRequest, obj: ProcessVersion, form: forms.Form, change: bool
    ) -> None:
        result = services.version_save_draft(
            source=form.cleaned_data["source"],
            actor=request.user,  # type: ignore[arg-type]
            expected_key=obj.definition.key if change else None,
        )
        obj.pk = result.version.pk
        obj.refresh_from_db()
        if not result.changed:
            messages.info(
                request,
                gettext("Same content as %(version)s: nothing new was saved.")
                % {"version": result.version},
            )

    def delete_model(self, request: HttpRequest, obj: ProcessVersion) -> None:
        services.version_delete_draft(version=obj, actor=request.user)  # type: ignore[arg-type]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # no related objects; the service saved everything

    def get_form(
        self, request: HttpRequest, obj: ProcessVersion | None = None, change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:  # type: ignore[type-arg]  # fmt: skip
        form = super().get_form(request, obj, change, **kwargs)
        kept = None
        if obj is not None and request.method == "GET":
            kept = request.session.pop(_UNSAVED.format(obj.pk), None)
        if kept is None:
            return form

        class WithUnsavedEdit(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self.initial["source"] = kept

        return WithUnsavedEdit

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        chosen = gallery.template(request.GET.get("template", ""))
        return {"source": chosen.source} if chosen else {}

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        obj = kwargs.get("obj") or context.get("original")
        context["definition_schema"] = definition_schema()
        context["validate_url"] = reverse("admin:orchestration_processversion_validate")
        if obj is None:
            context["gallery"] = gallery.templates()
            context["chosen_template"] = request.GET.get("template", "")
        form = getattr(context.get("adminform"), "form", None)
        # A failed save shows the editor's text with its errors, while the
        # diagram and the changes still draw the last saved version: say so.
        context["stale_diagram"] = bool(obj is not None and form is not None and form.errors)
        context["can_publish"] = permissions.can_publish(request.user) and obj is not None
        context["can_new_draft"] = permissions.can_edit_draft(request.user)
        context["can_migrate"] = (
            obj is not None and obj.status in {"published", "deprecated"}
            and permissions.can_operate(request.user)
        )  # fmt: skip
        return super().render_change_form(request, context, *args, **kwargs)

    # ---- moving live instances here -------------------------------------------------
    def get_urls(self) -> list[Any]:
        from django.urls import path

        view = self.admin_site.admin_view
        own = [path("<path:object_id>/migrate/", view(self.migrate_view),
                    name="orchestration_processversion_migrate"),
               path("<path:object_id>/publish/", view(self.publish_view),
                    name="orchestration_processversion_publish"),
               path("validate/", view(self.validate_view),
                    name="orchestration_processversion_validate"),
               path("reference/", view(self.reference_view),
                    name="orchestration_processversion_reference")]  # fmt: skip
        return own + super().get_urls()

    def reference_view(self, request: HttpRequest) -> HttpResponseBase:
        """docs/definitions.md as text, for whoever may read definitions."""
        if not permissions.can_view_definitions(request.user):
            raise PermissionDenied
        path = Path(settings.BASE_DIR) / "docs" / "definitions.md"
        if not path.exists():
            raise Http404(gettext("The definition reference is not deployed with this copy."))
        return FileResponse(path.open("rb"), content_type="text/plain; charset=utf-8")

    def validate_view(self, request: HttpRequest) -> HttpResponse:
        """The editor's live check: the errors of the posted source, located,
        as JSON (the same rules as saving; nothing is written)."""
        if request.method != "POST":
            return JsonResponse({"errors": []}, status=405)
        if not permissions.can_edit_draft(request.user):
            raise PermissionDenied
        source = request.POST.get("source", "")
        key = request.POST.get("key") or None
        _, errors = services.draft_errors(source, expected_key=key)
        return JsonResponse({"errors": [
            {"path": e.path, "message": e.message, "line": e.line, "column": e.column}
            for e in errors
        ]})  # fmt: skip

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Publishing is deliberate: the page shows what changes against the
        version published now and asks why; the reason goes to the audit log."""
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404
        if not permissions.can_publish(request.user):
            raise PermissionDenied
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.version_publish(version=version, actor=request.user,  # type: ignore[arg-type]
                                         reason=form.cleaned_data["reason"])  # fmt: skip
            except Exception as exc:
                report_problem(self, request, gettext("Publish"), exc)
            else:
                self.message_user(request, gettext("%(version)s published.")
                                  % {"version": _named(version)}, messages.SUCCESS)  # fmt: skip
                return HttpResponseRedirect(
                    reverse("admin:orchestration_processversion_change", args=[version.pk])
                )
        live = selectors.published_version_of(version.definition)
        base = live if live is not None and live.pk != version.pk else None
        diff = ""
        if base is not None:
            old_label = gettext("v%(number)s (published)") % {"number": base.number}
            diff = source_diff_html(
                base.source, version.source, old_label=old_label, new_label=f"v{version.number}"
            )
        title = gettext("Publish %(version)s") % {"version": version}
        context = {**self.admin_site.each_context(request), "title": title,
                   "version": version, "base": base, "diff": diff, "form": form,
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/orchestration/processversion/publish.html", context)

    def migrate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Operators move the live instances of another version of this
        definition here: a dry run lists what each would do, then Migrate."""
        target = self.get_object(request, object_id)
        if target is None:
            raise Http404
        if not permissions.can_operate(request.user):
            raise PermissionDenied
        form = MigrationForm(target, request.POST or None)
        plan: list[dict[str, Any]] | None = None
        if request.method == "POST" and form.is_valid():
            args = {"key": target.definition.key, "source": form.cleaned_data["source"],
                    "target": target.number, "mapping": form.cleaned_data["mapping"],
                    "actor": request.user}  # fmt: skip
            try:
                plan = services.instance_migration_plan(**args)
                if "_migrate" in request.POST:
                    moved = services.instance_migrate(**args)
                    text = ngettext(
                        "Moved %(count)d instance to v%(number)s.",
                        "Moved %(count)d instances to v%(number)s.",
                        len(moved),
                    )
                    text %= {"count": len(moved), "number": target.number}
                    self.message_user(request, text, messages.SUCCESS)
                    return HttpResponseRedirect(
                        reverse("admin:orchestration_processversion_change", args=[target.pk])
                    )
            except Exception as exc:
                report_problem(self, request, gettext("Migrate"), exc)
        title = gettext("Migrate to %(version)s") % {"version": target}
        context = {**self.admin_site.each_context(request), "title": title,
                   "target": target, "form": form, "plan": plan, "opts": self.model._meta,
                   "blocked": any(line["problem"] for line in plan or [])}  # fmt: skip
        return TemplateResponse(request, "admin/orchestration/processversion/migrate.html",
                                context)  # fmt: skip

    def response_change(self, request: HttpRequest, obj: ProcessVersion) -> HttpResponse:
        if "_publish" in request.POST:  # the diff and a reason first
            return HttpResponseRedirect(
                reverse("admin:orchestration_processversion_publish", args=[obj.pk])
            )
        for button, (service, verb) in STATUS_ACTIONS.items():
            if button in request.POST:
                self._change_status(request, [obj], service, verb)
                return HttpResponseRedirect(request.path)
        if "_new_draft" in request.POST:
            return self._new_draft(request, obj)
        return super().response_change(request, obj)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # Status buttons on a read-only (non-draft) page post without a form to save.
        if request.method == "POST" and not any(b in request.POST for b in ("_save", "_continue")):
            obj = self.get_object(request, object_id)
            if obj is not None and (set(STATUS_ACTIONS) | {"_new_draft", "_publish"}) & set(
                request.POST
            ):
                if not self.has_view_permission(request, obj):
                    raise PermissionDenied
                edited = request.POST.get("source")
                if edited is not None and _normalise(edited) != _normalise(obj.source):
                    # Keep what was typed: the page comes back with it in the editor.
                    request.session[_UNSAVED.format(obj.pk)] = edited[: 1024 * 1024]
                    self.message_user(
                        request,
                        gettext(
                            "Nothing was published: the editor has changes that are not saved. "
                            "They are kept below; save them first, then publish."
                        ),
                        messages.WARNING,
                    )
                    return HttpResponseRedirect(request.path)
                return self.response_change(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def _new_draft(self, request: HttpRequest, obj: ProcessVersion) -> HttpResponse:
        try:
            result = services.version_save_draft(
                source=obj.source,
                actor=request.user,  # type: ignore[arg-type]
                allow_identical=True,
            )
        except Exception as exc:
            report_problem(self, request, gettext("New draft"), exc)
            return HttpResponseRedirect(request.path)
        target = result.version
        if not result.changed:
            self.message_user(
                request,
                gettext("%(version)s already has this content.") % {"version": target},
                messages.INFO,
            )
        return HttpResponseRedirect(
            reverse("admin:orchestration_processversion_change", args=[target.pk])
        )

    def _change_status(
        self, request: HttpRequest, versions: list[ProcessVersion], service: Any, done: Any
    ) -> None:
        for version in versions:
            try:
                service(version=version, actor=request.user)
            except Exception as exc:
                report_problem(self, request, str(version), exc)
            else:
                self.message_user(request, done % {"version": _named(version)})

    @admin.action(description=gettext_lazy("Deprecate selected versions"), permissions=["publish"])
    def deprecate_selected(self, request: HttpRequest, queryset: QuerySet[ProcessVersion]) -> None:
        self._change_status(request, list(queryset), *STATUS_ACTIONS["_deprecate"])


class PublishForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        label=gettext_lazy("Why publish this version? (kept in the audit log)"),
    )


class MigrationForm(forms.Form):
    source = forms.TypedChoiceField(
        coerce=int, label=gettext_lazy("Move the live instances of version")
    )
    mapping = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}),
        label=gettext_lazy("Renamed steps (one old_step=new_step per line)"),
    )  # fmt: skip

    def __init__(self, target: ProcessVersion, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        others = ProcessVersion.objects.filter(definition=target.definition).exclude(pk=target.pk)
        counted = others.annotate(
            live=Count("instances", filter=Q(instances__ended_at__isnull=True))
        ).order_by("number")
        self.fields["source"].choices = [  # type: ignore[attr-defined]
            (
                number,
                gettext("v%(number)s (%(status)s, %(live)s live)")
                % {"number": number, "status": VersionStatus(status).label, "live": live},
            )
            for number, status, live in counted.values_list("number", "status", "live")
        ]

    def clean_mapping(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for n, line in enumerate(self.cleaned_data["mapping"].splitlines(), 1):
            if not line.strip():
                continue
            old, sep, new = line.strip().partition("=")
            if not sep or not old.strip() or not new.strip():
                raise ValidationError(
                    gettext("line %(n)s: expected old_step=new_step, got %(line)s")
                    % {"n": n, "line": repr(line.strip())}
                )
            mapping[old.strip()] = new.strip()
        return mapping


class VersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ProcessVersion
    fields = ("link", "status", "created_at", "published_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description=gettext_lazy("Version"))
    def link(self, obj: ProcessVersion) -> str:
        url = reverse("admin:orchestration_processversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.number)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(ReadOnlyAdmin):
    """Definitions come into being with their first version (ProcessVersionAdmin)."""

    list_display = ("key", "name", "versions_summary", "updated_at")
    search_fields = ("key", "name")
    fields = ("key", "name", "created_at", "updated_at", "diagram")
    readonly_fields = fields
    inlines = [VersionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProcessDefinition]:
        return super().get_queryset(request).prefetch_related("versions")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # "Add" here is adding a first version: the editor with its templates.
        return permissions.can_edit_draft(request.user)

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:orchestration_processversion_add"))

    @admin.display(description=gettext_lazy("Versions"))
    def versions_summary(self, obj: ProcessDefinition) -> str:
        versions = ((v.number, v.get_status_display()) for v in obj.versions.all())
        return format_html_join(", ", "v{} {}", versions)

    @admin.display(description=gettext_lazy("Newest version"))
    def diagram(self, obj: ProcessDefinition) -> SafeString | str:
        newest = max(obj.versions.all(), key=lambda v: v.number, default=None)
        if newest is None:
            return "-"
        return mark_safe(render_svg(newest.spec))  # noqa: S308 - render_svg escapes its text


@admin.register(ProcessEvent)
class ProcessEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "kind",
        "actor",
        "definition",
        "version",
        "from_status",
        "to_status",
    )
    list_filter = ("kind",)
    list_select_related = ("actor", "definition", "version__definition")
    readonly_fields = [f.name for f in ProcessEvent._meta.fields]


class InstancePartInline(admin.TabularInline):  # type: ignore[type-arg]
    """Rows of an instance shown on its page, read-only: whoever may see the
    instance sees its steps and tasks."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.can_view_instances(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StepRunInline(InstancePartInline):
    model = StepRun
    fields = (
        "step",
        "execution",
        "attempt",
        "kind",
        "status",
        "started_at",
        "ended_at",
        "error",
    )
    readonly_fields = fields
    ordering = ("pk",)

    @admin.display(description=gettext_lazy("Kind"))
    def kind(self, obj: StepRun) -> str:
        # Words, not Django's boolean icons: a red cross read as "failed".
        return gettext("compensation (undo)") if obj.compensation else gettext("step")


class HumanTaskInline(InstancePartInline):
    model = HumanTask
    fields = ("id", "step", "title", "status", "outcome", "decided_by", "decided_at", "due_at")
    readonly_fields = fields


@admin.register(ProcessInstance)
class ProcessInstanceAdmin(ReadOnlyAdmin):
    """Operators look here; every change goes through the services (actions below)."""

    list_display = (
        "id",
        "definition",
        "version_number",
        "status",
        "result",
        "business_key",
        "started_by",
        "created_at",
        "ended_at",
    )
    list_filter = ("status", "definition")
    search_fields = ("=id", "business_key")
    list_select_related = ("definition", "version", "started_by")
    readonly_fields = (
        "definition",
        "version",
        "status",
        "result",
        "business_key",
        "started_by",
        "parent",
        "created_at",
        "updated_at",
        "ended_at",
        "problem",
        "pending_timers",
        "shown_variables",
        "diagram",
    )
    fields = readonly_fields
    inlines = [HumanTaskInline, StepRunInline]
    actions = ["cancel_selected", "retry_selected"]

    @admin.display(description=gettext_lazy("Version"), ordering="version__number")
    def version_number(self, obj: ProcessInstance) -> int:
        return obj.version.number

    @admin.display(description=gettext_lazy("Variables"))
    def shown_variables(self, obj: ProcessInstance) -> str:
        # Masked for everyone here: the instance page opens them (audited) for
        # people allowed to see sensitive values.
        return json.dumps(sensitive.masked(obj.variables), indent=2, ensure_ascii=False)

    @admin.display(description=gettext_lazy("Problem"))
    def problem(self, obj: ProcessInstance) -> str:
        """A failed step or an incident in words, with what an operator can do."""
        error = obj.error or {}
        if not error:
            return "-"
        if obj.status == InstanceStatus.SUSPENDED:
            hold = error.get("suspended") or {}
            held = len(error.get("replay") or [])
            return ngettext(
                "Suspended by %(by)s: %(reason)s (%(held)d event held)."
                " Resume it from its page (Intervene) or the API.",
                "Suspended by %(by)s: %(reason)s (%(held)d events held)."
                " Resume it from its page (Intervene) or the API.",
                held,
            ) % {"by": hold.get("by"), "reason": hold.get("reason"), "held": held}
        if obj.status == InstanceStatus.INCIDENT:
            held = len(error.get("replay") or [])
            return ngettext(
                "Incident at step %(step)s: %(type)s: %(message)s (while applying: %(source)s;"
                " %(held)d event held). Retry resumes it once the cause is fixed; cancel ends it.",
                "Incident at step %(step)s: %(type)s: %(message)s (while applying: %(source)s;"
                " %(held)d events held). Retry resumes it once the cause is fixed; cancel ends it.",
                held,
            ) % {"step": repr(error.get("step")), "type": error.get("type"), "held": held,
                 "message": error.get("message"), "source": error.get("source")}  # fmt: skip
        return gettext("Step %(step)s failed: %(code)s: %(message)s") % {
            "step": repr(error.get("step")), "code": error.get("code"),
            "message": error.get("message"),
        }  # fmt: skip

    @admin.display(description=gettext_lazy("Pending timers and escalations"))
    def pending_timers(self, obj: ProcessInstance) -> SafeString | str:
        timers = selectors.pending_timers(obj)
        if not timers:
            return gettext("None.")
        lines = ((f"{t['due_at']:%Y-%m-%d %H:%M:%S %Z}", t["step"] or "-", t["what"])
                 for t in timers)  # fmt: skip
        items = format_html_join("", "<li>{} — {}: {}</li>", lines)
        return format_html('<ul class="pending-timers">{}</ul>', items)

    @admin.display(description=gettext_lazy("Where it is"))
    def diagram(self, obj: ProcessInstance) -> SafeString:
        current = current_steps(obj.state)
        done = {step for step, _ in selectors.completed_steps(obj)}
        svg = render_svg(obj.version.spec, highlight=current, done=done)
        return _diagram_box(svg)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return permissions.can_operate(request.user)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[ProcessInstance], done: Any, call: Any
    ) -> None:
        for instance in queryset:
            try:
                call(instance_id=instance.pk, actor=request.user)
            except Exception as exc:
                report_problem(self, request, f"#{instance.pk}", exc)
            else:
                status = ProcessInstance.objects.values_list("status", flat=True).get(
                    pk=instance.pk
                )
                level = messages.WARNING if status == InstanceStatus.INCIDENT else messages.INFO
                text = done % {"id": instance.pk, "status": InstanceStatus(status).label}
                self.message_user(request, text, level)

    @admin.action(
        description=gettext_lazy("Cancel selected instances (with compensation)"),
        permissions=["operate"],
    )
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[ProcessInstance]) -> None:
        done = gettext_lazy("#%(id)s cancelled: now %(status)s.")
        self._each(request, queryset, done, services.instance_cancel)

    @admin.action(
        description=gettext_lazy("Retry the failed step or incident of selected instances"),
        permissions=["operate"],
    )
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[ProcessInstance]) -> None:
        done = gettext_lazy("#%(id)s retried: now %(status)s.")
        self._each(request, queryset, done, services.instance_retry)


# ---- webhooks --------------------------------------------------------------------------
class WebhookSubscriptionForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(max_length=500, assume_scheme="https", label=gettext_lazy("URL"))
    events = forms.MultipleChoiceField(
        choices=list(WEBHOOK_EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Events"),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "events", "active"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"])
        if not host_allowed(url, settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS):
            raise ValidationError(
                gettext(
                    "Its host is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS"
                    " (the same list as http steps)."
                )
            )
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Made through the service (the secret is shown once, after saving);
    afterwards only the URL, the events and `active` change."""

    form = WebhookSubscriptionForm
    list_display = ("name", "url", "active", "failures_in_a_row", "paused_until", "created_at")
    readonly_fields = ("created_by", "created_at", "failures_in_a_row", "paused_until")

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        given = form.cleaned_data
        made, secret = webhooks.subscription_create(
            actor=request.user, name=given["name"], url=given["url"], events=given["events"]
        )
        obj.pk = made.pk
        messages.warning(
            request,
            gettext(
                "The signing secret of %(name)s is %(secret)s — copy it now: "
                "it is shown only this once."
            )
            % {"name": repr(made.name), "secret": secret},
        )


class WebhookAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookAttempt
    fields = ("at", "status_code", "error", "milliseconds")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "event_type", "subscription")
    readonly_fields = (
        "subscription",
        "event",
        "event_type",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "replay_of",
        "created_at",
        "delivered_at",
        "last_error",
    )
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.action(description=gettext_lazy("Send the selected deliveries again"))
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            try:
                again = webhooks.delivery_replay(actor=request.user, delivery_id=delivery.pk)
                self.message_user(
                    request,
                    gettext("Delivery %(id)s will be sent again as %(again)s.")
                    % {"id": delivery.pk, "again": again.pk},
                    messages.SUCCESS,
                )
            except Exception as exc:
                report_problem(self, request, gettext("Delivery %(id)s") % {"id": delivery.pk}, exc)


@admin.register(SweepFailure)
class SweepFailureAdmin(ReadOnlyAdmin):
    """Rows a sweep (mail, sealing, fan-out, routing, housekeeping) could not
    handle: what failed, how often, and when it is tried again (or given up)."""

    list_display = ("sweep", "row_id", "attempts", "given_up", "retry_at", "last_failed_at",
                    "error")  # fmt: skip
    list_filter = ("sweep", "given_up")
    search_fields = ("error",)
    readonly_fields = (*list_display, "first_failed_at")


from orchestration import admin_retention  # noqa: E402,F401  (its own pages, registered on import)
