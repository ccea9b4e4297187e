"""Forms of the inbox: the list's filters, and a task's decision form built
from its definition's `form` fields."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orchestration.queues import DUE_WINDOWS, SORTS, TABS


class InboxFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=list(TABS.items()), required=False)
    definition = forms.ChoiceField(choices=[], required=False, label=_("Process"))
    due = forms.ChoiceField(
        choices=[("", _("Any due date")), *DUE_WINDOWS.items()], required=False, label=_("Due")
    )
    priority = forms.IntegerField(
        min_value=0, max_value=100, required=False, label=_("Priority at least")
    )
    q = forms.CharField(max_length=200, required=False, label=_("Search title or business key"))
    sort = forms.ChoiceField(choices=list(SORTS.items()), required=False, label=_("Sort by"))
    snoozed = forms.BooleanField(required=False, label=_("Snoozed only"))
    after = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, definitions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["definition"].choices = [("", _("Any process")), *definitions]  # type: ignore[attr-defined]


class SavedFilterForm(forms.Form):
    name = forms.CharField(max_length=60, label=_("Save these filters as"))


def number(raw: str) -> int | float:
    """A posted number as JSON would carry it: an int when written as a whole
    number ("5000"), else a float; ValueError for text, NaN or infinity."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return int(value) if value.is_integer() and "." not in raw else value


def decision_data(
    fields: list[Mapping[str, Any]], posted: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The typed data of a posted decision form, and errors for values that
    are not of their field's type (rules such as `required_for` are the
    service's to check, so that every entry point checks them alike)."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        name, kind = field["name"], field["type"]
        if kind == "boolean":
            data[name] = posted.get(name) in {"on", "true", "1"}
            continue
        raw = str(posted.get(name, "")).strip() if kind != "textarea" else posted.get(name, "")
        if raw in {"", None}:
            continue
        if kind == "number":
            try:
                data[name] = number(raw)
            except ValueError:
                errors[name] = [str(_("expected a number"))]
        elif kind == "integer":
            try:
                data[name] = int(raw)
            except ValueError:
                errors[name] = [str(_("expected a whole number"))]
        else:
            data[name] = raw
    return data, errors


def errors_by_field(errors: Mapping[str, list[str]], prefix: str) -> dict[str, list[str]]:
    """The service names errors by full path (`data.comment`, `variables.amount`);
    a form shows each under its own field."""
    head = f"{prefix}."
    return {(k[len(head) :] if k.startswith(head) else k): list(v) for k, v in errors.items()}


def bound_fields(
    fields: Sequence[Mapping[str, Any]], posted: Mapping[str, Any], errors: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """Each field with what was typed into it, its messages, and whether it is
    the first invalid one (the page focuses it)."""
    out: list[dict[str, Any]] = []
    focused = False
    for field in fields:
        name = field["name"]
        problems = list(errors.get(name, []))
        focus = bool(problems) and not focused
        focused = focused or focus
        out.append({**field, "value": posted.get(name, ""), "checked": name in posted,
                    "errors": problems, "focus": focus})  # fmt: skip
    return out
