"""Where the engine keeps sensitive values sealed, and opens them for the core.

The core and the handlers work on clear values (expressions and handlers
see what people typed); everything the runtime stores holds them sealed
(orchestration/sensitive.py). The rule at the storage boundary:

- a variable declared `sensitive` is sealed whole;
- a form field declared `sensitive` is sealed wherever its step's answers
  sit: under the step's id in the variables (at any depth, so the entries of
  a `for_each` approval too), in the task's data and in every vote;
- a value that was sealed when read stays sealed wherever the transition
  copied it: into another variable, a parent's `result` (a child's sealed
  values arrive sealed), and the engine's working copies in `state` (the
  items and results of `for_each` entries, their bound items) are sealed
  whole while the instance holds anything sealed.

Titles, subjects and messages are rendered from the masked view (`shown`),
so what goes to the inbox, mail, webhooks and the audit log never held the
value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestration import sensitive
from orchestration.engine.state import step_variables

if TYPE_CHECKING:
    from orchestration.engine.core import Definition


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _track(value: Any, into: set[str]) -> None:
    # Empty values and booleans are everywhere: following them would mask
    # every other empty field or flag, and they reveal next to nothing.
    if value in (None, "", [], {}) or isinstance(value, bool):
        return
    into.add(canonical(value))


def open_collecting(value: Any, found: set[str]) -> Any:
    """`value` with every envelope opened; the canonical form of each value
    found sealed (and of each item of a sealed list) goes into `found`."""
    if sensitive.is_sealed(value):
        clear = sensitive.open_(value)
        _track(clear, found)
        if isinstance(clear, list):
            for item in clear:
                _track(item, found)
        return clear
    if isinstance(value, dict):
        return {k: open_collecting(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [open_collecting(v, found) for v in value]
    return value


def _replace(
    variables: dict[str, Any],
    names: Collection[str],
    fields: Mapping[str, Collection[str]],
    values: Collection[str],
    wrap: Callable[[Any], Any],
) -> dict[str, Any]:
    out = {}
    for name, value in variables.items():
        if name in names:
            out[name] = wrap(value)
        elif name in fields:
            out[name] = _by_key(value, fields[name], values, wrap)
        else:
            out[name] = _by_value(value, values, wrap)
    return out


def _by_key(
    value: Any, keys: Collection[str], values: Collection[str], wrap: Callable[[Any], Any]
) -> Any:
    if isinstance(value, dict):
        return {
            k: wrap(v) if k in keys else _by_key(v, keys, values, wrap) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_by_key(v, keys, values, wrap) for v in value]
    return _by_value(value, values, wrap)


def _by_value(value: Any, values: Collection[str], wrap: Callable[[Any], Any]) -> Any:
    if not values or sensitive.is_sealed(value):
        return value
    if canonical(value) in values:
        return wrap(value)
    if isinstance(value, dict):
        return {k: _by_value(v, values, wrap) for k, v in value.items()}
    if isinstance(value, list):
        return [_by_value(v, values, wrap) for v in value]
    return value


def involved(definition: Definition, found: Collection[str]) -> bool:
    """Whether this instance has anything to seal (most do not: nothing is walked then)."""
    return bool(definition.sensitive_variables or definition.sensitive_fields or found)


def seal_variables(
    definition: Definition, variables: dict[str, Any], found: Collection[str]
) -> dict[str, Any]:
    if not involved(definition, found):
        return variables
    return _replace(variables, definition.sensitive_variables, definition.sensitive_fields,
                    _known(definition, variables, found), sensitive.seal)  # fmt: skip


def shown(
    definition: Definition, variables: dict[str, Any], found: Collection[str]
) -> dict[str, Any]:
    """The variables as titles, subjects and messages may show them."""
    if not involved(definition, found):
        return variables
    return _replace(variables, definition.sensitive_variables, definition.sensitive_fields,
                    _known(definition, variables, found), lambda _: sensitive.MASK)  # fmt: skip


def _known(
    definition: Definition, variables: Mapping[str, Any], found: Collection[str]
) -> set[str]:
    """Every value to keep sealed wherever it was copied: what was found sealed
    and what the declared variables hold now."""
    known = set(found)
    for name in definition.sensitive_variables:
        value = variables.get(name)
        _track(value, known)
        if isinstance(value, list):
            for item in value:
                _track(item, known)
    return known


# Parts of `state` that hold copies of the instance's data rather than the engine's bookkeeping.
_TOKEN_DATA = {"chain": ("items", "results"), "each": ("items", "results")}


def seal_state(
    definition: Definition, state: dict[str, Any], found: Collection[str]
) -> dict[str, Any]:
    if not involved(definition, found):
        return state
    out = dict(state)
    if state.get("binds"):
        out["binds"] = {k: sensitive.seal(v) for k, v in state["binds"].items()}
    tokens = {}
    for key, tok in (state.get("tokens") or {}).items():
        tok = dict(tok)
        for part, names in _TOKEN_DATA.items():
            if isinstance(tok.get(part), dict):
                tok[part] = {
                    k: sensitive.seal(v) if k in names else v for k, v in tok[part].items()
                }
        tokens[key] = tok
    out["tokens"] = tokens
    return out


def carried(variables: dict[str, Any], source: Any) -> dict[str, Any]:
    """A child's input with every value its parent (`source`: the parent's
    stored variables) keeps sealed, sealed too: the child's first
    transition then keeps them sealed wherever it puts them."""
    found: set[str] = set()
    open_collecting(source, found)
    if not found:
        return variables
    return {name: _by_value(value, found, sensitive.seal) for name, value in variables.items()}


def step_input(variables: Any, state: Any, step: str, execution: int) -> dict[str, Any]:
    """What one run of a step (a handler, an http call, an external worker)
    sees: the values open."""
    return step_variables(sensitive.opened(variables), sensitive.opened(state), step, execution)


def seal_answers(definition: Definition, step: str, data: dict[str, Any]) -> dict[str, Any]:
    """A task's or a vote's form answers as stored."""
    fields = definition.sensitive_fields.get(step)
    if not fields or not isinstance(data, dict):
        return data
    return {k: sensitive.seal(v) if k in fields else v for k, v in data.items()}


def seal_events(
    definition: Definition, variables: Any, events: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events kept for replay (they may carry answers and outputs), sealed
    whole when the instance has anything sensitive."""
    if not (involved(definition, ()) or sensitive.holds_sealed(variables)):
        return list(events)
    return [sensitive.seal(e) for e in events]
