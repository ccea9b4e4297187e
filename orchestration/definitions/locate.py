"""Where in the source text each problem is, and which problems to show.

Validation names problems by path (`steps.review.outcomes.approve`); an editor
needs a line and a column, in the order a person reads, with the first cause
first: one typo in a step name must read as one error at its line, not as that
error plus every step it left unreachable."""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

import yaml
from django.utils.translation import gettext

from orchestration.definitions.errors import DefinitionError

# Suffix of a path whose entry is the scalar value, not its key.
_VALUE = "="


def positions(source: str) -> dict[str, tuple[int, int]]:
    """Every path of a YAML (or JSON) source with its 1-based line and column:
    a mapping entry at its key (and, when its value is a scalar, that value
    under the path plus "="), a list item at the item. Empty when the text does
    not compose (its parse error carries its own position)."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    found: dict[str, tuple[int, int]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                inner = f"{path}.{key.value}" if path else str(key.value)
                found.setdefault(inner, (key.start_mark.line + 1, key.start_mark.column + 1))
                if isinstance(value, yaml.ScalarNode):  # a wrong value is marked where it is
                    mark = value.start_mark
                    found.setdefault(f"{inner}{_VALUE}", (mark.line + 1, mark.column + 1))
                walk(value, inner)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                inner = f"{path}[{index}]"
                found.setdefault(inner, (item.start_mark.line + 1, item.start_mark.column + 1))
                walk(item, inner)

    if root is not None:
        walk(root, "")
    return found


def _nearest(path: str, where: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """The position of the path, else of its closest enclosing part that exists
    (a required field that is missing points at its step)."""
    while path:
        if path in where:
            return where[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def explain(source: str, errors: list[DefinitionError]) -> list[DefinitionError]:
    """The errors to show: located, consequences of another error left out, in
    reading order (those without a position last, by path)."""
    where = positions(source)
    shown = _first_causes(errors)
    located = []
    for error in shown:
        if error.line is not None:  # a parse error knows its own position
            spot: tuple[int, int] | None = (error.line, error.column or 1)
        elif error.code != "unknown_field" and error.path + _VALUE in where:
            spot = where[error.path + _VALUE]
        else:
            spot = _nearest(error.path, where)
        located.append(replace(error, line=spot[0], column=spot[1]) if spot else error)
    return sorted(located, key=lambda e: (e.line is None, e.line or 0, e.column or 0, e.path))


def _first_causes(errors: list[DefinitionError]) -> list[DefinitionError]:
    """Drop what another error explains (by the errors' codes, never their
    words, which may be translated):
    - a step unreachable while some reference leads nowhere (the typo is the
      cause; a step still unreachable once it is fixed is reported then);
    - "X is required" beside an unknown field that is a misspelling of X: one
      error, "unknown field (did you mean 'X'?)"."""
    unknown_refs = any(e.code == "dangling" for e in errors)
    required = {e.path: e for e in errors if e.code == "required"}
    merged: set[str] = set()
    out = []
    for error in errors:
        if unknown_refs and error.code == "unreachable":
            continue
        if error.code == "unknown_field":
            parent, _, name = error.path.rpartition(".")
            siblings = [p.rpartition(".")[2] for p in required if p.rpartition(".")[0] == parent]
            close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.75)
            if close:
                merged.add(f"{parent}.{close[0]}" if parent else close[0])
                error = replace(error, message=gettext("unknown field (did you mean %(name)r?)")
                                % {"name": close[0]})  # fmt: skip
        out.append(error)
    return [e for e in out if e.path not in merged]
