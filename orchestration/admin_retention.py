"""The admin's pages for keeping data lawfully: legal holds (place, lift) and
erasure by data subject (a value, or user accounts chosen in the user list),
each through the services in orchestration/retention, which audit them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy

from accounts import permissions
from orchestration.admin import report_problem
from orchestration.models import LegalHold, ProcessDefinition, ProcessInstance
from orchestration.retention import erasure, holds


class HoldForm(forms.Form):
    instance = forms.IntegerField(
        label=gettext_lazy("Instance id"), required=False, min_value=1,
        help_text=gettext_lazy("One instance; or leave empty and name a definition or a subject."),
    )  # fmt: skip
    definition = forms.ModelChoiceField(
        ProcessDefinition.objects.order_by("key"), label=gettext_lazy("Definition"),
        required=False, help_text=gettext_lazy("Every instance of it, now and later."),
    )  # fmt: skip
    subject = forms.CharField(
        label=gettext_lazy("Data subject"), required=False, max_length=500,
        help_text=gettext_lazy(
            "The value a definition's subject names (an e-mail, a business key). Kept only as a "
            "keyed digest."
        ),
    )  # fmt: skip
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea, max_length=2000)


class LiftForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the hold ends"), widget=forms.Textarea, max_length=2000
    )


class ErasureForm(forms.Form):
    value = forms.CharField(
        label=gettext_lazy("Subject value"), required=False, max_length=500,
        help_text=gettext_lazy("An e-mail, a business key, a name: what the subject is known by."),
    )  # fmt: skip
    user = forms.ModelChoiceField(
        get_user_model().objects.order_by("username"), required=False,
        label=gettext_lazy("Or a user account"),
    )  # fmt: skip
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=2000,
        help_text=gettext_lazy("The request's reference: the audit log keeps it."),
    )  # fmt: skip


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Holds are placed and lifted through their own forms (audited), never edited."""

    list_display = ("id", "scope", "target", "reason", "placed_by", "placed_at", "lifted_at")
    list_filter = ("scope", ("lifted_at", admin.EmptyFieldListFilter))
    list_select_related = ("instance", "definition", "placed_by")
    readonly_fields = ("scope", "instance", "definition", "reason", "placed_by", "placed_at",
                       "lifted_by", "lifted_at", "lift_reason")  # fmt: skip
    fields = readonly_fields
    actions = ["lift_selected"]

    @admin.display(description=gettext_lazy("Covers"))
    def target(self, obj: LegalHold) -> str:
        if obj.instance_id:
            return gettext("instance #%(id)s") % {"id": obj.instance_id}
        if obj.definition_id:
            return str(obj.definition)
        return gettext("a data subject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.hold_refusal(request.user) is None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_hold_permission(self, request: HttpRequest) -> bool:
        return permissions.hold_refusal(request.user) is None

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        own = [path("erase/", view(self.erase_view), name="orchestration_legalhold_erase")]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = HoldForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            instance = None
            if data["instance"]:
                instance = ProcessInstance.objects.filter(pk=data["instance"]).first()
                if instance is None:
                    form.add_error("instance", gettext("No such instance."))
            if form.is_valid():
                try:
                    hold = holds.place(actor=request.user, reason=data["reason"],
                                       instance=instance, definition=data["definition"],
                                       subject=data["subject"] or None)  # fmt: skip
                except Exception as exc:
                    report_problem(self, request, gettext("Legal hold"), exc)
                else:
                    self.message_user(request, gettext("Hold #%(id)s placed.") % {"id": hold.pk},
                                      messages.SUCCESS)  # fmt: skip
                    return HttpResponseRedirect(reverse("admin:orchestration_legalhold_changelist"))
        return self._page(request, "admin/orchestration/legalhold/place.html",
                          gettext("Place a legal hold"), form=form)  # fmt: skip

    @admin.action(description=gettext_lazy("Lift selected holds"), permissions=["hold"])
    def lift_selected(self, request: HttpRequest, queryset: QuerySet[LegalHold]) -> Any:
        form = LiftForm(request.POST if "_lift" in request.POST else None)
        if form.is_valid():
            for hold in queryset:
                try:
                    holds.lift(actor=request.user, hold=hold, reason=form.cleaned_data["reason"])
                except Exception as exc:
                    report_problem(self, request, f"#{hold.pk}", exc)
                else:
                    self.message_user(request, gettext("Hold #%(id)s lifted.") % {"id": hold.pk})
            return None
        return self._page(request, "admin/orchestration/legalhold/lift.html",
                          gettext("Lift legal holds"), form=form, holds=queryset)  # fmt: skip

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        """Erase a data subject: a dry run shows what would be erased and kept, then Erase."""
        if permissions.erase_refusal(request.user) is not None:
            raise PermissionDenied
        initial = {"user": request.GET.get("user")} if request.GET.get("user") else None
        form = ErasureForm(request.POST or None, initial=initial)
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            dry_run = "_erase" not in request.POST
            try:
                report = erasure.erase(actor=request.user, reason=data["reason"],
                                       value=data["value"] or None, user=data["user"],
                                       dry_run=dry_run)  # fmt: skip
            except Exception as exc:
                report_problem(self, request, gettext("Erasure"), exc)
            else:
                if not dry_run:
                    self.message_user(request, gettext("Erased."), messages.SUCCESS)
        return self._page(request, "admin/orchestration/legalhold/erase.html",
                          gettext("Erase a data subject"), form=form, report=report,
                          erased="_erase" in request.POST)  # fmt: skip

    def _page(
        self, request: HttpRequest, template: str, title: str, **more: Any
    ) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "title": title,
                   "opts": self.model._meta, **more}  # fmt: skip
        return TemplateResponse(request, template, context)


def erase_selected_users(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    """A user admin action: the erasure page, for the first selected account."""
    if permissions.erase_refusal(request.user) is not None:
        raise PermissionDenied
    first = queryset.order_by("pk").first()
    if first is None:
        return None
    url = reverse("admin:orchestration_legalhold_erase")
    return HttpResponseRedirect(f"{url}?user={first.pk}")


erase_selected_users.short_description = gettext_lazy(  # type: ignore[attr-defined]
    "Erase the personal data of the selected user"
)
