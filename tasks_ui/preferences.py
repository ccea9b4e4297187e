"""A person's own settings: the language of the pages and their time zone."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts import services as account_services
from orchestration.exceptions import InvalidInput
from tasks_ui.responses import person


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        required=False, label=gettext_lazy("Language of the pages"),
        choices=[("", gettext_lazy("As my browser asks")), *settings.LANGUAGES],
    )  # fmt: skip
    timezone = forms.CharField(
        max_length=64, label=gettext_lazy("Time zone"),
        help_text=gettext_lazy("An IANA name such as Europe/Berlin: due times are shown in it."),
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    me = person(request)
    form = PreferencesForm(request.POST or None,
                           initial={"language": me.language, "timezone": me.timezone})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            account_services.preferences_update(
                actor=me, language=form.cleaned_data["language"],
                timezone=form.cleaned_data["timezone"].strip(),
            )  # fmt: skip
        except InvalidInput as exc:
            for name, problems in exc.errors.items():
                form.add_error(name if name in form.fields else None, "; ".join(problems))
        else:
            translation.activate(me.language or translation.get_language_from_request(request))
            messages.success(request, _("Saved your settings."))
            return redirect("tasks_ui:preferences")
    status = 400 if request.method == "POST" else 200
    return render(request, "tasks_ui/preferences.html", {"form": form}, status=status)
