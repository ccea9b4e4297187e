"""Checking an instance's input against the definition's `variables`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext

from orchestration import limits
from orchestration.definitions.patterns import full_match

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _check(name: str, decl: Mapping[str, Any], value: Any) -> list[str]:
    kind = decl["type"]
    if kind in {"date", "datetime"}:
        if not isinstance(value, str):
            return [gettext("expected an ISO 8601 %(kind)s string") % {"kind": kind}]
        try:
            parsed = (date if kind == "date" else datetime).fromisoformat(value)
        except ValueError:
            return [
                gettext("%(value)s is not an ISO 8601 %(kind)s")
                % {"value": repr(value), "kind": kind}
            ]
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            return [gettext("needs a time zone (e.g. 2026-12-01T09:00:00+01:00)")]
        return []
    expected = _JSON_TYPES[kind]
    # bool is an int in Python; JSON keeps them apart.
    if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, expected):
        return [
            gettext("expected %(kind)s, got %(got)s") % {"kind": kind, "got": _json_type(value)}
        ]
    errors = []
    if "enum" in decl and value not in decl["enum"]:
        errors.append(
            gettext("must be one of %(values)s") % {"values": ", ".join(map(str, decl["enum"]))}
        )
    if "minimum" in decl and isinstance(value, int | float) and value < decl["minimum"]:
        errors.append(gettext("must be >= %(limit)s") % {"limit": decl["minimum"]})
    if "maximum" in decl and isinstance(value, int | float) and value > decl["maximum"]:
        errors.append(gettext("must be <= %(limit)s") % {"limit": decl["maximum"]})
    if isinstance(value, str):
        if "min_length" in decl and len(value) < decl["min_length"]:
            errors.append(
                gettext("must be at least %(limit)s characters") % {"limit": decl["min_length"]}
            )
        if "max_length" in decl and len(value) > decl["max_length"]:
            errors.append(
                gettext("must be at most %(limit)s characters") % {"limit": decl["max_length"]}
            )
        if "pattern" in decl and not full_match(decl["pattern"], value):
            errors.append(gettext("must match %(pattern)s") % {"pattern": decl["pattern"]})
    if isinstance(value, list) and isinstance(decl.get("items"), Mapping):
        for i, item in enumerate(value):
            errors += [
                f"[{i}]: {problem}" for problem in _check(f"{name}[{i}]", decl["items"], item)
            ]
    return errors


def _json_type(value: Any) -> str:
    for name, kind in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


_TYPE_NAMES: list[tuple[str, type]] = [
    ("null", type(None)), ("boolean", bool), ("integer", int), ("number", float),
    ("string", str), ("array", list), ("object", dict),
]  # fmt: skip


def changed_variable_errors(spec: Mapping[str, Any], given: Any) -> dict[str, list[str]]:
    """Field errors of new values for some of an instance's declared
    variables (an operator's change): declared names only, each of its type."""
    if not isinstance(given, Mapping) or not given:
        return {"variables": [gettext("a JSON object naming at least one variable")]}
    problem = limits.json_problem(given)
    if problem:
        return {"variables": [problem]}
    declared: Mapping[str, Mapping[str, Any]] = spec.get("variables") or {}
    errors: dict[str, list[str]] = {}
    for name, value in given.items():
        if name not in declared:
            errors[f"variables.{name}"] = [gettext("unknown variable")]
            continue
        problems = _check(name, declared[name], value)
        if problems:
            errors[f"variables.{name}"] = problems
    return errors


def validate_variables(
    spec: Mapping[str, Any], given: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(variables with defaults applied, field errors). Undeclared names are errors:
    a typo in a variable name must not start an instance that misbehaves later."""
    declared: Mapping[str, Mapping[str, Any]] = spec.get("variables") or {}
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        return {}, {"variables": [gettext("must be a JSON object")]}
    problem = limits.json_problem(given)
    if problem:
        return {}, {"variables": [problem]}
    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            errors[f"variables.{name}"] = [gettext("unknown variable")]
            continue
        problems = _check(name, declared[name], value)
        if problems:
            errors[f"variables.{name}"] = problems
        result[name] = value
    for name, decl in declared.items():
        if name in given:
            continue
        if "default" in decl:
            result[name] = decl["default"]
        elif decl.get("required"):
            errors[f"variables.{name}"] = [gettext("this variable is required")]
    return result, errors


def _schema_of(decl: Mapping[str, Any]) -> dict[str, Any]:
    kind = decl["type"]
    schema: dict[str, Any] = (
        {"type": "string", "format": "date" if kind == "date" else "date-time"}
        if kind in {"date", "datetime"}
        else {"type": kind}
    )
    for ours, theirs in [("enum", "enum"), ("minimum", "minimum"), ("maximum", "maximum"),
                         ("min_length", "minLength"), ("max_length", "maxLength"),
                         ("pattern", "pattern"), ("default", "default"),
                         ("description", "description"), ("label", "title")]:  # fmt: skip
        if ours in decl:
            schema[theirs] = decl[ours]
    if isinstance(decl.get("items"), Mapping):
        schema["items"] = _schema_of(decl["items"])
    return schema


def variables_json_schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The definition's `variables` as a JSON Schema (draft 2020-12) of the
    start input, for clients to generate forms or validate before calling.
    (Patterns are RE2 here; the common subset reads the same in ECMA-262.)"""
    declared: Mapping[str, Mapping[str, Any]] = spec.get("variables") or {}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {name: _schema_of(decl) for name, decl in declared.items()},
        "required": sorted(
            name
            for name, decl in declared.items()
            if decl.get("required") and "default" not in decl
        ),
        "additionalProperties": False,
    }
