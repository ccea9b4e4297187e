"""The reason an operator's intervention must give."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from orchestration import limits
from orchestration.exceptions import InvalidInput


def required_reason(reason: Any, why: str) -> str:
    """The reason as stored: required, at most 1,000 characters of text
    (no control characters the audit log could not keep)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput({"reason": [_("required: %(why)s") % {"why": _(why)}]})
    if len(text) > 1000 or limits.text_problem(text):
        raise InvalidInput({"reason": [_("at most 1000 characters of text")]})
    return text
