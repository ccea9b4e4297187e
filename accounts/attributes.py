"""A person's attributes for allocation rules (User.attributes)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_ATTRIBUTES = 50
MAX_TEXT = 200
MAX_LIST = 50


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    return value is None or isinstance(value, bool | int | float)


def attribute_problems(value: Any) -> list[str]:
    """What is wrong with an attributes object, one message per attribute."""
    if not isinstance(value, dict):
        return [gettext("must be an object of name: value")]
    if len(value) > MAX_ATTRIBUTES:
        return [gettext("at most %(limit)s attributes") % {"limit": MAX_ATTRIBUTES}]
    problems = []
    for name, item in value.items():
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(
                gettext("%(name)s is not a name (letters, digits and _)") % {"name": repr(name)}
            )
        elif isinstance(item, list):
            if len(item) > MAX_LIST or not all(_scalar(v) for v in item):
                problems.append(
                    gettext("%(name)s: a list of at most %(limit)s numbers, texts or true/false")
                    % {"name": name, "limit": MAX_LIST}
                )
        elif not _scalar(item):
            problems.append(
                gettext("%(name)s: a number, a text of at most %(limit)s characters, true/false,"
                        " or a list of those") % {"name": name, "limit": MAX_TEXT}
            )  # fmt: skip
    return problems


def validate_attributes(value: Any) -> None:
    problems = attribute_problems(value)
    if problems:
        raise ValidationError(problems)
