"""The definition schema's own messages (`x-message` in definition.schema.json),
listed here so that makemessages finds them; validate.py translates each when
it reports it. A test keeps this list and the schema's in step."""

from __future__ import annotations

from django.utils.translation import gettext_noop

MESSAGES = (
    gettext_noop("invalid duration {value!r} (use 30s, 5m, 2h, 3d, 1w or ISO 8601 such as PT30S)"),
    gettext_noop("{value!r} is not a branch (a step id, or {{next: step, when: expression}})"),
    gettext_noop("{value!r} is not a handler name (dotted identifiers such as demo.check_budget)"),
    gettext_noop(
        "{value!r} is not a priority (0-100, low, normal, high, urgent, or a template such as '{{{{ 90 if amount > 10000 else 50 }}}}')"  # noqa: E501 - the schema's text, exactly
    ),
    gettext_noop(
        "{value!r} is not a quorum (any, all, a count such as 2, or a percentage such as 60%)"
    ),
    gettext_noop(
        "{value!r} is not a quorum (any, all, a count, a percentage, or {{required, outcome, veto}})"  # noqa: E501 - the schema's text, exactly
    ),
    gettext_noop("{value!r} is not a slug (lowercase letters, digits and single hyphens)"),
    gettext_noop("{value!r} is not a topic (letters, digits, _ . and -, at most 100 characters)"),
    gettext_noop(
        "{value!r} is not a valid name (letters, digits and _, not starting with a digit)"
    ),
    gettext_noop(
        "{value!r} is not a valid step id (letters, digits and _, not starting with a digit, at most 100 characters)"  # noqa: E501 - the schema's text, exactly
    ),
    gettext_noop("{value!r} is not a valid variable name"),
    gettext_noop("{value!r} is not a working-hours range such as 09:00-17:00"),
    gettext_noop(
        "{value!r} is not an exclusion (starter, previous_approvers, or {{step: <approval step>}})"
    ),
    gettext_noop("{value!r} is not the name of an environment variable (A-Z, 0-9 and _)"),
    gettext_noop("{value!r} is neither a duration (30d, 12w, P90D) nor forever"),
    gettext_noop("{value!r} is not business_key or variables.<name>"),
)
