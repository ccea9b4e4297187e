"""Out of office: a person records when they are away and who decides for them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.models import Absence
from orchestration import clock
from orchestration.exceptions import InvalidInput
from tasks_ui.responses import person


class AbsenceForm(forms.Form):
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Away from (your time zone)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("Back on"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    delegate = forms.CharField(
        max_length=150, required=False, label=gettext_lazy("Who decides meanwhile (username)")
    )
    note = forms.CharField(max_length=200, required=False, label=gettext_lazy("Note"))

    def clean_delegate(self) -> object:
        name = self.cleaned_data["delegate"].strip()
        if not name:
            return None
        model = get_user_model()
        found = model.objects.filter(**{model.USERNAME_FIELD: name}, is_active=True).first()
        if found is None:
            raise forms.ValidationError(_("no active user %(name)r") % {"name": name})
        return found


@require_http_methods(["GET", "POST"])
@login_required
def absences(request: HttpRequest) -> HttpResponse:
    form = AbsenceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.absence_record(
                    actor=person(request), user=person(request), starts_at=data["starts_at"],
                    ends_at=data["ends_at"], delegate=data["delegate"], note=data["note"],
                )  # fmt: skip
            except InvalidInput as exc:
                for name, problems in exc.errors.items():
                    form.add_error(name if name in form.fields else None, "; ".join(problems))
            else:
                messages.success(request, _("Recorded your absence."))
                return redirect("tasks_ui:absences")
        status = 400
    mine = Absence.objects.filter(user=person(request), ends_at__gt=clock.now()).select_related(
        "delegate"
    )
    return render(request, "tasks_ui/absences.html", {"form": form, "absences": mine},
                  status=status)  # fmt: skip


@require_POST
@login_required
def absence_delete(request: HttpRequest, pk: int) -> HttpResponse:
    absence = Absence.objects.filter(pk=pk, user=person(request)).first()
    if absence is None:
        raise Http404(_("No such absence of yours."))
    services.absence_delete(actor=person(request), absence=absence)
    messages.success(request, _("Deleted the absence."))
    return redirect("tasks_ui:absences")
