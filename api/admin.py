"""API keys in the admin: made through the service (the token is shown once,
in the message after saving), never edited, revoked by an action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from accounts import permissions
from accounts.models import User
from api import services
from api.models import SCOPES, ApiCall, ApiKey
from orchestration.models import ProcessDefinition
from orchestration.problems import problem_for


class ApiKeyForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(
        choices=list(SCOPES.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=gettext_lazy("Scopes"),
    )
    definitions = forms.MultipleChoiceField(
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=gettext_lazy("Definitions"),
        help_text=gettext_lazy("None ticked: every definition."),
    )

    class Meta:
        model = ApiKey
        fields = ["name", "user", "scopes", "definitions"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["definitions"].choices = [  # type: ignore[attr-defined]
            (key, key) for key in ProcessDefinition.objects.values_list("key", flat=True)
        ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApiKeyForm
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    autocomplete_fields = ("user",)
    actions = ["revoke"]
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # keys are made and revoked, never edited

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoked keys stay, so the audit log's names keep their meaning

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        user = request.user
        assert isinstance(user, User)
        given = form.cleaned_data
        key, token = services.api_key_create(
            actor=user,
            name=given["name"],
            user=given["user"],
            scopes=given["scopes"],
            definitions=given["definitions"],
        )
        obj.pk = key.pk
        messages.warning(
            request,
            gettext("The key %(name)s is %(token)s — copy it now: it is shown only this once.")
            % {"name": repr(key.name), "token": token},
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the service saved everything

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the audit log records the creation (api_key.created)

    @admin.action(description=gettext_lazy("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        user = request.user
        assert isinstance(user, User)
        for key in queryset:
            try:
                services.api_key_revoke(actor=user, key_id=key.pk)
                self.message_user(
                    request,
                    gettext("Revoked %(name)s.") % {"name": repr(key.name)},
                    messages.SUCCESS,
                )
            except Exception as exc:
                problem = problem_for(exc)
                if problem is None:
                    raise
                self.message_user(request, f"{key.name}: {problem.message}", messages.ERROR)


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The API's access log, for auditors (the policy's can_read_audit)."""

    list_display = ("at", "key", "user", "method", "path", "status", "milliseconds")
    list_filter = ("method", "status", "key")
    search_fields = ("path", "request_id", "key__name", "user__username")
    date_hierarchy = "at"
    readonly_fields = (
        "at",
        "key",
        "user",
        "method",
        "path",
        "status",
        "request_id",
        "ip",
        "milliseconds",
    )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can_read_audit(request.user)

    def has_view_permission(self, request: HttpRequest, obj: ApiCall | None = None) -> bool:
        return permissions.can_read_audit(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiCall | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiCall | None = None) -> bool:
        return False
