"""Budgets for data that comes from outside (start variables, form data, handler
outputs, message payloads): JSON that every supported database stores as it is,
within a size and a depth.

PostgreSQL's jsonb refuses text with a NUL character, and neither database
keeps NaN or Infinity as numbers; a value like that used to be found only when
a whole batch of writes failed. Each check returns the first problem as
`path: message`, or None.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

# The settings and their defaults are config/settings/base.py's (one place).


def max_json_bytes() -> int:
    return int(settings.ORCHESTRATION_MAX_JSON_BYTES)


def max_json_depth() -> int:
    return int(settings.ORCHESTRATION_MAX_JSON_DEPTH)


def max_text_length() -> int:
    """The longest answer to a `text` or `textarea` form field."""
    return int(settings.ORCHESTRATION_MAX_TEXT_LENGTH)


def json_problem(value: Any, path: str = "") -> str | None:
    """The first reason `value` is not storable JSON within the budgets, as
    `path: message` (path "" is the value itself), or None."""
    found = _walk(value, path, 0, max_json_depth())
    if found:
        return found
    # _walk refused everything json.dumps could not write.
    size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    limit = max_json_bytes()
    if size > limit:
        words = gettext(
            "%(size)s bytes as JSON, more than %(limit)s (ORCHESTRATION_MAX_JSON_BYTES)"
        )
        return _at(path, words % {"size": size, "limit": limit})
    return None


def _at(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def text_problem(text: str) -> str | None:
    """What no database stores as text: NUL, and halves of surrogate pairs
    (which JSON's \\ud800 escapes can carry, but UTF-8 cannot)."""
    if "\x00" in text:
        return gettext("a NUL character")
    try:
        text.encode()
    except UnicodeEncodeError:
        return gettext("a lone surrogate (not valid Unicode)")
    return None


def _walk(value: Any, path: str, depth: int, max_depth: int) -> str | None:
    if depth > max_depth:
        return _at(path, gettext("nested deeper than %(n)s (ORCHESTRATION_MAX_JSON_DEPTH)")
                   % {"n": max_depth})  # fmt: skip
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return (
            None
            if math.isfinite(value)
            else _at(path, gettext("%(value)s is not a finite number") % {"value": value})
        )
    if isinstance(value, str):
        problem = text_problem(value)
        return (
            _at(path, gettext("text with %(problem)s") % {"problem": problem}) if problem else None
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return _at(path, gettext("key %(key)r is not text") % {"key": key})
            problem = text_problem(key)
            if problem:
                return _at(path, gettext("a key with %(problem)s") % {"problem": problem})
            found = _walk(item, f"{path}.{key}" if path else key, depth + 1, max_depth)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _walk(item, f"{path}[{i}]", depth + 1, max_depth)
            if found:
                return found
        return None
    return _at(path, gettext("%(kind)s is not a JSON value") % {"kind": type(value).__name__})


def storable_text(text: str, limit: int = 500) -> str:
    """Diagnostic text (an error message from a handler or a server) as the
    database will store it: NUL characters replaced, at most `limit` characters."""
    return text.replace("\x00", "\ufffd")[:limit]
