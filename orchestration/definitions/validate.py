"""Validation of a definition: a pure function from data to a list of errors.

Two passes. The JSON Schema pass checks shape (unknown fields, types, formats)
and turns jsonschema's errors into `path: message` lines. Only a well-shaped
definition gets the graph pass (references, reachability, handlers,
expressions, joins, subprocesses), since those rules presume the shape.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import holidays
import jsonschema
from django.utils.translation import gettext, gettext_lazy

from orchestration.definitions import expressions
from orchestration.definitions.allowlist import host_allowed, literal_origin
from orchestration.definitions.durations import DurationError, parse_duration
from orchestration.definitions.errors import DefinitionError, DefinitionInvalid
from orchestration.definitions.graph import (
    Level,
    all_steps,
    branch_targets,
    edges,
    levels,
    message_names,
    reachable,
    regions_of,
    successors,
)
from orchestration.definitions.parse import parse_source
from orchestration.definitions.patterns import PatternError, compile_pattern


@dataclass(frozen=True)
class Context:
    """What validation checks names against. `None` skips that check (drafts are
    saved before operators allowlist their hosts or publish child definitions)."""

    handlers: Collection[str] = ()
    resolvers: Collection[str] = ()
    definitions: Collection[str] | None = None
    allowed_hosts: Collection[str] | None = None
    published_definitions: Collection[str] | None = field(default=None)
    # Definition key -> the definition keys its live versions start as sub-processes
    # (publishing checks that the new version closes no cycle through them).
    subprocess_calls: Mapping[str, Collection[str]] | None = None
    # Names of secrets (environment variables) http steps may use; None: not checked.
    secrets: Collection[str] | None = None
    # Whether sensitive values can be encrypted here; None: not checked.
    encryption: bool | None = None


@cache
def schema() -> dict[str, Any]:
    text = resources.files("orchestration.definitions").joinpath("definition.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


def validate_source(text: str, context: Context) -> dict[str, Any]:
    """Parse and validate; return the definition data or raise DefinitionInvalid."""
    spec = parse_source(text)
    errors = validate(spec, context)
    if errors:
        raise DefinitionInvalid(errors)
    return spec


def validate(spec: Mapping[str, Any], context: Context) -> list[DefinitionError]:
    """Every problem in the definition, sorted by path; empty when it is valid."""
    errors = sorted(set(_schema_errors(spec)))
    if errors:
        return errors
    return sorted(set(_graph_errors(spec, context)))


# ---- pass 1: shape -------------------------------------------------------------------

_JSON_TYPES = {
    dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
    float: "number", type(None): "null",
}  # fmt: skip


def render_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "definition"


def _schema_errors(spec: Mapping[str, Any]) -> Iterable[DefinitionError]:
    for error in _validator().iter_errors(spec):
        yield from _translate(error)


def _translate(error: jsonschema.ValidationError) -> Iterable[DefinitionError]:
    parts = list(error.absolute_path)
    kind, value, sub = error.validator, error.instance, error.schema
    if "propertyNames" in error.schema_path:
        parts.append(value)
    path = render_path(parts)
    custom = sub.get("x-message") if isinstance(sub, dict) else None
    if kind == "additionalProperties":
        known = set(sub.get("properties", {}))
        for name in sorted(set(value) - known, key=str):
            yield DefinitionError(
                render_path([*parts, name]), gettext("unknown field"), code="unknown_field"
            )
    elif kind == "required":
        for name in error.validator_value:
            if name not in value:
                yield DefinitionError(
                    render_path([*parts, name]), gettext("is required"), code="required"
                )
    elif custom:
        # The schema's own messages (x-message), listed for translation in
        # definitions/schema_messages.py.
        yield DefinitionError(path, gettext(custom).format(value=value))
    elif kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        got = _JSON_TYPES.get(type(value), type(value).__name__)
        yield DefinitionError(
            path, gettext("expected {wanted}, got {got}").format(wanted=wanted, got=got)
        )
    elif kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        yield DefinitionError(
            path,
            gettext("must be one of {choices} (got {value!r})").format(
                choices=choices, value=value
            ),
        )
    elif kind in {"minItems", "minProperties"}:
        yield DefinitionError(
            path, gettext("needs at least {v0} entries").format(v0=error.validator_value)
        )
    elif kind == "minLength":
        yield DefinitionError(path, gettext("must not be empty"))
    elif kind == "uniqueItems":
        yield DefinitionError(path, gettext("has duplicate entries"))
    elif kind in {"minimum", "maximum"}:
        op = ">=" if kind == "minimum" else "<="
        yield DefinitionError(
            path, gettext("must be {op} {v0}").format(op=op, v0=error.validator_value)
        )
    elif kind == "maxLength":
        yield DefinitionError(
            path, gettext("at most {n} characters").format(n=error.validator_value)
        )
    elif kind == "pattern":
        yield DefinitionError(
            path, gettext("must match {pattern}").format(pattern=error.validator_value)
        )
    elif kind == "const":
        yield DefinitionError(path, gettext("must be {v0!r}").format(v0=error.validator_value))
    elif kind in {"anyOf", "oneOf"}:
        yield DefinitionError(path, gettext("is none of the forms this field takes"))
    else:  # a rule the schema does not use today: jsonschema's own words
        yield DefinitionError(path, error.message)


# ---- pass 2: graph and names ---------------------------------------------------------


def _graph_errors(spec: Mapping[str, Any], ctx: Context) -> Iterable[DefinitionError]:
    variables: Mapping[str, Any] = spec.get("variables") or {}
    flat = all_steps(spec)
    where = {step_id: f"{level.prefix}.{step_id}" for level in reversed(levels(spec))
             for step_id in level.steps}  # fmt: skip
    yield from _duplicate_id_errors(spec)
    for level in levels(spec):
        yield from _level_errors(level, flat, where)
    yield from _calendar_errors(spec.get("calendar"))

    known = set(variables) | set(flat)
    for step in flat.values():
        known.update(step.get("outputs") or [])
        if step.get("result") and step["type"] in {"http", "subprocess"}:
            known.add(step["result"])

    for level in levels(spec):
        for step_id, step in level.steps.items():
            path = f"{level.prefix}.{step_id}"
            if step_id in variables:
                yield DefinitionError(
                    path,
                    gettext("step id {step_id!r} is also a variable name").format(step_id=step_id),
                )
            if step_id in CONDITION_NAMES:
                yield DefinitionError(
                    path, gettext("{step_id!r} is a reserved name").format(step_id=step_id)
                )
            yield from _step_errors(path, step, known, ctx, own=spec["key"])
    yield from _cycle_errors(spec, ctx, where)
    yield from _duration_errors(spec, [])
    yield from _exclusion_errors(flat, where)
    for name, decl in variables.items():
        yield from _pattern_errors(f"variables.{name}", decl)
        if name in CONDITION_NAMES:
            yield DefinitionError(
                f"variables.{name}", gettext("{name!r} is a reserved name").format(name=name)
            )
    yield from _action_errors(spec)
    yield from _exclusive_errors(spec, where)
    yield from _sla_errors(spec.get("sla") or {}, flat)
    yield from _retention_errors(spec, variables)
    yield from _sensitive_errors(variables)
    for step_id, step in flat.items():
        for i, form_field in enumerate(step.get("form") or []):
            if form_field.get("sensitive") and form_field.get("name") == COMMENT_FIELD:
                yield DefinitionError(f"{where[step_id]}.form[{i}].sensitive", gettext(
                    "the comment is kept in the task's thread, in clear: ask for the "
                    "sensitive part in a field of its own"
                ))  # fmt: skip
    if ctx.encryption is False:
        yield from _unencryptable(variables, flat, where)


def _retention_errors(
    spec: Mapping[str, Any], variables: Mapping[str, Any]
) -> Iterable[DefinitionError]:
    retention = spec.get("retention")
    if isinstance(retention, str) and retention != "forever":
        try:
            parse_duration(retention)
        except DurationError as exc:
            yield DefinitionError("retention", str(exc))
    subject = spec.get("subject")
    if isinstance(subject, str) and subject.startswith("variables.") and variables:
        name = subject.removeprefix("variables.")
        if name not in variables:
            yield DefinitionError("subject", gettext(
                "{name!r} is not one of the declared variables"
            ).format(name=name))  # fmt: skip


def _sensitive_errors(variables: Mapping[str, Any]) -> Iterable[DefinitionError]:
    """A sensitive variable is sealed whole: its default would sit in the
    definition in clear, and a part of it cannot be sealed alone."""
    for name, decl in variables.items():
        if decl.get("sensitive") and "default" in decl:
            yield DefinitionError(f"variables.{name}.default", gettext(
                "a sensitive variable has no default: the definition is kept in clear"
            ))  # fmt: skip
        item = decl.get("items")
        while isinstance(item, Mapping):
            if "sensitive" in item:
                yield DefinitionError(f"variables.{name}.items.sensitive", gettext(
                    "mark the whole variable sensitive, not its items"
                ))  # fmt: skip
                break
            item = item.get("items")


def _unencryptable(
    variables: Mapping[str, Any], flat: Mapping[str, Mapping[str, Any]], where: Mapping[str, str]
) -> Iterable[DefinitionError]:
    why = gettext(
        "sensitive values are encrypted with ORCHESTRATION_ENCRYPTION_KEYS, and none is "
        "configured: set it before publishing (docs/security.md)"
    )
    for name, decl in variables.items():
        if decl.get("sensitive"):
            yield DefinitionError(f"variables.{name}.sensitive", why)
    for step_id, step in flat.items():
        for i, form_field in enumerate(step.get("form") or []):
            if form_field.get("sensitive"):
                yield DefinitionError(f"{where[step_id]}.form[{i}].sensitive", why)


# Steps a token passes through in the same transition: an expected duration
# there could never be missed, so it is refused rather than kept as a promise.
_INSTANT_STEPS = frozenset({"decision", "parallel", "notify", "end"})


def _sla_errors(
    sla: Mapping[str, Any], flat: Mapping[str, Mapping[str, Any]]
) -> Iterable[DefinitionError]:
    if isinstance(sla.get("process"), str):
        try:
            parse_duration(sla["process"])
        except DurationError as exc:
            yield DefinitionError("sla.process", str(exc))
    for step_id, text in (sla.get("steps") or {}).items():
        path = f"sla.steps.{step_id}"
        step = flat.get(step_id)
        if step is None:
            yield DefinitionError(path, gettext("unknown step {target!r}").format(target=step_id))
            continue
        if step.get("type") in _INSTANT_STEPS:
            yield DefinitionError(path, gettext(
                "a {kind} step takes no time: an expected duration there is never missed"
            ).format(kind=step["type"]))  # fmt: skip
        try:
            parse_duration(text)
        except DurationError as exc:
            yield DefinitionError(path, str(exc))


def _exclusive_errors(
    spec: Mapping[str, Any], where: Mapping[str, str]
) -> Iterable[DefinitionError]:
    """An exclusive region inside one that holds the same name would wait
    for itself for ever."""
    flat, parents = all_steps(spec), regions_of(spec)
    for step_id, step in flat.items():
        name = step.get("exclusive")
        outer = parents.get(step_id)
        while name and outer is not None:
            if flat[outer].get("exclusive") == name:
                yield DefinitionError(
                    f"{where[step_id]}.exclusive",
                    gettext(
                        "inside region {outer!r}, which holds {name!r} already: it would wait for "
                        "itself"
                    ).format(outer=outer, name=name),
                )
                break
            outer = parents.get(outer)


def _action_errors(spec: Mapping[str, Any]) -> Iterable[DefinitionError]:
    """An action sends a message: some step must be able to wait for it."""
    awaited, seen = message_names(spec), set()
    for i, action in enumerate(spec.get("actions") or []):
        name = action["message"]
        if name not in awaited:
            yield DefinitionError(
                f"actions[{i}].message",
                gettext("no step waits for message {name!r}").format(name=name),
            )
        if name in seen:
            yield DefinitionError(
                f"actions[{i}].message", gettext("{name!r} is already an action").format(name=name)
            )
        seen.add(name)


def _duplicate_id_errors(spec: Mapping[str, Any]) -> Iterable[DefinitionError]:
    """Step ids are unique across the definition, regions included: tokens,
    tasks and the audit name steps by id alone."""
    first: dict[str, str] = {}
    for level in levels(spec):
        for step_id in level.steps:
            path = f"{level.prefix}.{step_id}"
            if step_id in first:
                yield DefinitionError(
                    path,
                    gettext("step id {step_id!r} is already used at {v0}").format(
                        step_id=step_id, v0=first[step_id]
                    ),
                )
            else:
                first[step_id] = path


def _level_errors(
    level: Level, flat: Mapping[str, Any], where: Mapping[str, str]
) -> Iterable[DefinitionError]:
    """References, reachability and joins within one level (the top, or a
    region: a region's steps reach only each other and end at its ends)."""
    steps = level.steps

    def unknown(target: str) -> str:
        if target in flat:
            if level.region is None:
                words = gettext("step {target!r} is inside a region ({region}): a region is"
                                " entered at its start")  # fmt: skip
                return words.format(target=target, region=where[target])
            return gettext("step {target!r} is outside region {region!r}: a region's steps"
                           " reach only each other, and leave it through an end").format(
                target=target, region=level.region)  # fmt: skip
        return gettext("unknown step {target!r}").format(target=target)

    if level.start not in steps:
        yield DefinitionError(level.start_path, unknown(str(level.start)), code="dangling")
    dangling = False
    for edge in edges(steps, level.prefix):
        if edge.target not in steps:
            dangling = True
            yield DefinitionError(edge.path, unknown(edge.target), code="dangling")
    yield from _reachability_errors(level, check_ends=not dangling)
    yield from _join_errors(steps, level.prefix)
    if not dangling:
        yield from _side_path_errors(steps, level.prefix)
    if level.region is not None:
        for step_id, step in steps.items():
            if step["type"] == "end" and "status" in step:
                yield DefinitionError(
                    f"{level.prefix}.{step_id}.status",
                    gettext("an end inside a region ends the region, not the instance"),
                )


def _exclusion_errors(
    steps: Mapping[str, Mapping[str, Any]], where: Mapping[str, str]
) -> Iterable[DefinitionError]:
    """`exclude: [{step: x}]` names an approval step whose deciders may not decide."""
    for step_id, step in steps.items():
        if step["type"] != "approval":
            continue
        for i, item in enumerate(step.get("exclude") or []):
            if not isinstance(item, Mapping):
                continue
            path, named = f"{where[step_id]}.exclude[{i}].step", item["step"]
            if named not in steps:
                yield DefinitionError(path, gettext("unknown step {named!r}").format(named=named))
            elif steps[named]["type"] != "approval":
                yield DefinitionError(
                    path, gettext("{named!r} is not an approval step").format(named=named)
                )
            elif named == step_id:
                yield DefinitionError(path, gettext("a step cannot exclude its own deciders"))


def _pattern_errors(path: str, decl: Mapping[str, Any]) -> Iterable[DefinitionError]:
    if "pattern" in decl:
        try:
            compile_pattern(decl["pattern"])
        except PatternError as exc:
            yield DefinitionError(f"{path}.pattern", str(exc))
    if isinstance(decl.get("items"), Mapping):
        yield from _pattern_errors(f"{path}.items", decl["items"])


TEXT_FIELDS = frozenset({"text", "textarea"})
# A form field of this name is the decision's own comment (one box, not two).
COMMENT_FIELD = "comment"
_DURATION_KEYS = frozenset({"timeout", "due", "timer", "backoff", "max_backoff", "after"})


def _duration_errors(node: Any, path: list[Any]) -> Iterable[DefinitionError]:
    """Every duration field (the schema checked their syntax) within the cap."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _DURATION_KEYS and isinstance(value, str):
                try:
                    parse_duration(value)
                except DurationError as exc:
                    yield DefinitionError(render_path([*path, key]), str(exc))
            else:
                yield from _duration_errors(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _duration_errors(value, [*path, i])


def _cycle_errors(
    spec: Mapping[str, Any], ctx: Context, where: Mapping[str, str]
) -> Iterable[DefinitionError]:
    """A sub-process chain that leads back to this definition would start itself
    for ever: refused with the cycle spelled out, unless the step bounds it
    (`max_depth`); a bound on a step that cannot recurse is refused too."""
    if ctx.subprocess_calls is None:
        return
    own = spec["key"]
    calls = {key: set(callees) for key, callees in ctx.subprocess_calls.items()}
    steps = all_steps(spec)
    calls[own] = {s["definition"] for s in steps.values() if s["type"] == "subprocess"}
    for step_id, step in steps.items():
        if step["type"] != "subprocess":
            continue
        path = _path_back(step["definition"], own, calls)
        if path is not None and "max_depth" not in step:
            cycle = " -> ".join([own, *path])
            yield DefinitionError(
                f"{where[step_id]}.definition",
                gettext("sub-process cycle {cycle} (bound it with max_depth to recurse)").format(
                    cycle=cycle
                ),
            )
        if path is None and "max_depth" in step:
            yield DefinitionError(
                f"{where[step_id]}.max_depth",
                gettext("{v0!r} does not lead back to {own!r}: nothing to bound").format(
                    v0=step["definition"], own=own
                ),
            )


def _path_back(start: str, target: str, calls: Mapping[str, set[str]]) -> list[str] | None:
    """The shortest chain of calls from `start` to `target` (both included), if any."""
    queue, came_from = [start], {start: ""}
    while queue:
        key = queue.pop(0)
        if key == target:
            chain = [key]
            while came_from[chain[-1]]:
                chain.append(came_from[chain[-1]])
            return chain[::-1]
        for nxt in sorted(calls.get(key, ())):
            if nxt not in came_from:
                came_from[nxt] = key
                queue.append(nxt)
    return None


def _reachability_errors(level: Level, *, check_ends: bool) -> Iterable[DefinitionError]:
    steps = level.steps
    succ = successors(steps)
    if level.start not in steps:
        return
    seen = reachable(level.start, succ)
    for step_id in steps:
        if step_id not in seen:
            yield DefinitionError(
                f"{level.prefix}.{step_id}", gettext("unreachable from start"), code="unreachable"
            )
    if not check_ends:  # a dangling reference would make every step before it look stuck
        return
    predecessors: dict[str, list[str]] = {step_id: [] for step_id in steps}
    for step_id, nexts in succ.items():
        for nxt in nexts:
            predecessors[nxt].append(step_id)
    ends = [s for s, step in steps.items() if step["type"] == "end"]
    reaches_end = set(ends)
    todo = list(ends)
    while todo:  # walk backwards from every end step
        for prev in predecessors[todo.pop()]:
            if prev not in reaches_end:
                reaches_end.add(prev)
                todo.append(prev)
    for step_id in steps:
        if step_id in seen and step_id not in reaches_end:
            yield DefinitionError(
                f"{level.prefix}.{step_id}", gettext("no path from here reaches an end step")
            )


def parallel_joins(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """For each parallel step, the join where all of its branches meet (the nearest
    one reachable from every branch), or None."""
    succ = successors(steps)
    result: dict[str, str | None] = {}
    for step_id, step in steps.items():
        if step["type"] != "parallel":
            continue
        common: dict[str, int] | None = None
        for branch in branch_targets(step):
            depths = {
                s: d
                for s, d in reachable(branch, succ).items()
                if steps.get(s, {}).get("type") == "join"
            }
            if not depths:
                continue  # a branch that only ends (terminate: false) on its own
            common = (
                depths
                if common is None
                else {s: max(d, depths[s]) for s, d in common.items() if s in depths}
            )
        result[step_id] = min(common, key=lambda s: (common[s], s)) if common else None
    return result


def _join_errors(steps: Mapping[str, Mapping[str, Any]], prefix: str) -> Iterable[DefinitionError]:
    joins = parallel_joins(steps)
    for parallel_id, join_id in joins.items():
        targets = branch_targets(steps[parallel_id])
        succ = successors(steps)
        for i, target in enumerate(targets):
            if target in targets[:i]:
                yield DefinitionError(
                    f"{prefix}.{parallel_id}.branches[{i}]",
                    gettext("a branch already starts at {target!r}").format(target=target),
                )
        alone = [
            (i, target) for i, target in enumerate(targets)
            if join_id is None or join_id not in reachable(target, succ)
        ]  # fmt: skip
        # Without a join, one branch at least must be able to end on its own:
        # else the first to end ends them all (a join forgotten, most likely).
        if join_id is None and not any(_may_end_quietly(t, steps, succ) for _, t in alone):
            yield DefinitionError(
                f"{prefix}.{parallel_id}.branches",
                gettext("branches never meet at a join (or end each with terminate: false)"),
            )
            continue
        for i, target in alone:
            if join_id is not None and not _ends_quietly(target, steps, succ):
                yield DefinitionError(
                    f"{prefix}.{parallel_id}.branches[{i}]",
                    gettext(
                        "never reaches the join {join_id!r}: end it with terminate: false to let "
                        "it finish on its own"
                    ).format(join_id=join_id),
                )
        if join_id is None:
            continue
        wait_for = steps[join_id].get("wait_for")
        if isinstance(wait_for, int) and wait_for > len(targets):
            yield DefinitionError(
                f"{prefix}.{join_id}.wait_for",
                gettext("waits for {wait_for} branches; {parallel_id!r} has {v0}").format(
                    wait_for=wait_for, parallel_id=parallel_id, v0=len(targets)
                ),
            )
    succ = successors(steps)
    matched = {
        join_id
        for step in steps.values()
        if step["type"] == "parallel"
        for branch in branch_targets(step)
        for join_id in reachable(branch, succ)
    }
    for step_id, step in steps.items():
        if step["type"] == "join" and step_id not in matched:
            yield DefinitionError(f"{prefix}.{step_id}", gettext("join has no matching parallel"))


def _side_path_errors(
    steps: Mapping[str, Mapping[str, Any]], prefix: str
) -> Iterable[DefinitionError]:
    """A path an event starts beside its step (`interrupting: false`) runs on
    its own: it joins nothing and ends only itself (terminate: false)."""
    succ = successors(steps)
    for step_id, step in steps.items():
        for i, event in enumerate(step.get("events") or []):
            if not isinstance(event, Mapping) or event.get("interrupting") is not False:
                continue
            path = reachable(event["next"], succ)
            if any(steps[s]["type"] == "join" for s in path):
                yield DefinitionError(
                    f"{prefix}.{step_id}.events[{i}].next",
                    gettext(
                        "a path beside the step (interrupting: false) joins nothing: it runs on "
                        "its own"
                    ),
                )
            elif not _ends_quietly(event["next"], steps, succ):
                yield DefinitionError(
                    f"{prefix}.{step_id}.events[{i}].next",
                    gettext(
                        "a path beside the step (interrupting: false) ends with terminate: false, "
                        "or it would end the instance"
                    ),
                )


def _may_end_quietly(
    start: str, steps: Mapping[str, Mapping[str, Any]], succ: Mapping[str, list[str]]
) -> bool:
    return any(steps[s]["type"] == "end" and steps[s].get("terminate") is False
               for s in reachable(start, succ))  # fmt: skip


def _ends_quietly(
    start: str, steps: Mapping[str, Mapping[str, Any]], succ: Mapping[str, list[str]]
) -> bool:
    """Every end reachable from `start` ends only its branch (terminate: false)."""
    return all(
        steps[s].get("terminate") is False
        for s in reachable(start, succ)
        if steps.get(s, {}).get("type") == "end"
    )


def calendar_errors(calendar: Any) -> list[DefinitionError]:
    """Problems of a calendar on its own (the site default), with paths that
    start at `calendar`, as they would in a definition."""
    errors = sorted(set(_calendar_schema_errors(calendar)))
    return errors or sorted(set(_calendar_errors(calendar)))


def _calendar_schema_errors(calendar: Any) -> Iterable[DefinitionError]:
    for error in _calendar_validator().iter_errors({"calendar": calendar}):
        yield from _translate(error)


@cache
def _calendar_validator() -> jsonschema.protocols.Validator:
    full = schema()
    only = {key: value for key, value in full.items() if key not in {"properties", "required"}} | {
        "properties": {"calendar": full["properties"]["calendar"]}
    }
    return jsonschema.validators.validator_for(full)(only)


def _calendar_errors(calendar: Mapping[str, Any] | None) -> Iterable[DefinitionError]:
    if not calendar:
        return
    try:
        zoneinfo.ZoneInfo(calendar["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        yield DefinitionError(
            "calendar.timezone", gettext("unknown time zone {v0!r}").format(v0=calendar["timezone"])
        )
    if "holidays" in calendar:
        country, _, subdiv = calendar["holidays"].partition("-")
        try:
            holidays.country_holidays(country, subdiv=subdiv or None)
        except NotImplementedError:
            yield DefinitionError(
                "calendar.holidays",
                gettext("unknown holiday country {v0!r}").format(v0=calendar["holidays"]),
            )
    if "hours" in calendar:
        start, end = calendar["hours"].split("-")
        if start >= end:
            yield DefinitionError("calendar.hours", gettext("must end after it starts"))


def _expression_errors(path: str, text: str, known: set[str]) -> Iterable[DefinitionError]:
    try:
        node = expressions.parse(text)
    except expressions.ExpressionError as exc:
        yield DefinitionError(path, gettext("expression does not parse: {exc}").format(exc=exc))
        return
    unknown = sorted(expressions.names(node) - known)
    for name in unknown:
        yield DefinitionError(path, gettext("unknown variable {name!r}").format(name=name))
    if not expressions.names(node):
        # A constant gives the same answer at every run: an error (a value
        # over the budget, a division by zero) is refused now, not at run time.
        try:
            expressions.evaluate(text, {})
        except expressions.ExpressionError as exc:
            yield DefinitionError(
                path, gettext("expression cannot be evaluated: {exc}").format(exc=exc)
            )


def _template_errors(path: str, text: str, known: set[str]) -> Iterable[DefinitionError]:
    for placeholder in expressions.placeholders(text):
        yield from _expression_errors(path, placeholder, known)


def _json_template_errors(path: str, value: Any, known: set[str]) -> Iterable[DefinitionError]:
    if isinstance(value, str):
        yield from _template_errors(path, value, known)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_template_errors(f"{path}.{key}", item, known)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_template_errors(f"{path}[{i}]", item, known)


def _assignee_errors(
    path: str, assignees: Mapping[str, Any], known: set[str], ctx: Context,
    *, allocates: bool = False,
) -> Iterable[DefinitionError]:  # fmt: skip
    """Who a task or an email goes to. `where` and `policy` choose among the
    people named, and only for an approval's own assignees (`allocates`)."""
    for kind in ("users", "groups"):
        for i, entry in enumerate(assignees.get(kind) or []):
            yield from _template_errors(f"{path}.{kind}[{i}]", entry, known)
    resolver = assignees.get("resolver")
    if resolver is not None and resolver not in ctx.resolvers:
        yield DefinitionError(
            f"{path}.resolver",
            gettext("resolver {resolver!r} is not registered").format(resolver=resolver),
        )
    for name in ("where", "policy"):
        if name not in assignees:
            continue
        if not allocates:
            yield DefinitionError(
                f"{path}.{name}", gettext("applies to an approval's assignees only")
            )
        elif not any(assignees.get(k) for k in ("users", "groups", "resolver")):
            yield DefinitionError(
                f"{path}.{name}", gettext("needs users, groups or a resolver to choose from")
            )
    if allocates and "where" in assignees:
        yield from _expression_errors(f"{path}.where", assignees["where"], known | {"user"})


def _request_errors(
    path: str, request: Mapping[str, Any], known: set[str], ctx: Context
) -> Iterable[DefinitionError]:
    url = request["url"]
    yield from _template_errors(f"{path}.url", url, known)
    if literal_origin(url) is None:
        yield DefinitionError(
            f"{path}.url", gettext("must be an absolute http(s) URL whose host is written out")
        )
    elif ctx.allowed_hosts is not None and not host_allowed(url, ctx.allowed_hosts):
        host, port = literal_origin(url)  # type: ignore[misc]
        yield DefinitionError(
            f"{path}.url",
            gettext("host '{host}:{port}' is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS").format(
                host=host, port=port
            ),
        )
    for name, value in (request.get("headers") or {}).items():
        yield from _template_errors(f"{path}.headers.{name}", value, known)
        if name.lower() in {"authorization", "proxy-authorization", "cookie", "x-api-key"}:
            yield DefinitionError(
                f"{path}.headers.{name}",
                gettext(
                    "credentials do not belong in a definition: use auth: {bearer_secret: NAME}"
                ),
            )
    secret = (request.get("auth") or {}).get("bearer_secret")
    if secret and ctx.secrets is not None and secret not in ctx.secrets:
        yield DefinitionError(
            f"{path}.auth.bearer_secret",
            gettext("secret {secret!r} is not in ORCHESTRATION_SECRETS").format(secret=secret),
        )
    if "body" in request:
        yield from _json_template_errors(f"{path}.body", request["body"], known)


def _step_errors(
    path: str, step: Mapping[str, Any], known: set[str], ctx: Context, *, own: str
) -> Iterable[DefinitionError]:
    kind = step["type"]
    if "events" in step:
        yield from _event_list_errors(f"{path}.events", step["events"], known,
                                      step_kind=kind)  # fmt: skip
    if "for_each" in step and kind != "approval":
        yield from _each_errors(path, step, known)
        known = known | {step["for_each"]["as"]}  # what each entry's request or input sees
    if kind == "service":
        if ("handler" in step) == ("external" in step):
            yield DefinitionError(
                path,
                "a service step names either a handler or an external topic, not both"
                if "handler" in step
                else "a service step needs a handler or an external topic",
            )
        if "external" in step and "timeout" in step:
            yield DefinitionError(
                f"{path}.timeout",
                gettext(
                    "does not apply to an external step: each attempt lasts as long as its "
                    "worker's lock (lock_duration, extend-lock)"
                ),
            )
        for field_name in ("handler", "compensate"):
            name = step.get(field_name)
            if name is not None and name not in ctx.handlers:
                yield DefinitionError(
                    f"{path}.{field_name}",
                    gettext("handler {name!r} is not registered").format(name=name),
                )
    elif kind == "http":
        yield from _request_errors(f"{path}.request", step["request"], known, ctx)
        if "compensate" in step:
            yield from _request_errors(f"{path}.compensate", step["compensate"], known, ctx)
    elif kind == "decision":
        for i, branch in enumerate(step["branches"]):
            yield from _expression_errors(f"{path}.branches[{i}].when", branch["when"],
                                          known | CONDITION_NAMES)  # fmt: skip
    elif kind == "parallel":
        for i, branch in enumerate(step["branches"]):
            if isinstance(branch, Mapping) and "when" in branch:
                yield from _expression_errors(f"{path}.branches[{i}].when", branch["when"],
                                              known | CONDITION_NAMES)  # fmt: skip
    elif kind == "end" and step.get("terminate") is False and "status" in step:
        yield DefinitionError(
            f"{path}.terminate",
            gettext("an end with a status ends the instance: it cannot be false"),
        )
    elif kind == "join" and "rest" in step and "wait_for" not in step:
        yield DefinitionError(
            f"{path}.rest", gettext("applies to a partial join: give wait_for too")
        )
    elif kind == "approval":
        yield from _approval_errors(path, step, known, ctx)
    elif kind == "notify":
        yield from _assignee_errors(f"{path}.to", step["to"], known, ctx)
        for name in ("subject", "message"):
            if name in step:
                yield from _template_errors(f"{path}.{name}", step[name], known)
    elif kind == "wait":
        yield from _wait_errors(path, step, known)
    elif kind == "subprocess":
        key = step["definition"]
        if ctx.definitions is not None and key not in ctx.definitions and key != own:
            yield DefinitionError(
                f"{path}.definition", gettext("unknown definition {key!r}").format(key=key)
            )
        elif (
            ctx.published_definitions is not None
            and key not in ctx.published_definitions
            and key != own  # calling itself is a cycle, reported as one
        ):
            yield DefinitionError(
                f"{path}.definition",
                gettext("definition {key!r} has no published version").format(key=key),
            )
        for name, expr in (step.get("input") or {}).items():
            yield from _expression_errors(f"{path}.input.{name}", expr, known)
        if step.get("wait") is False:
            for name in ("result", "events"):
                if name in step:
                    yield DefinitionError(f"{path}.{name}", str(NOT_WAITING))


# What a branch condition sees beside the variables (core._with_active_steps).
CONDITION_NAMES = frozenset({"active_steps"})
# What `for_each.complete_when` sees beside the variables.
EACH_NAMES = frozenset({"completed", "total", "results"})
NOT_WAITING = gettext_lazy(
    "does not apply: the step does not wait for its sub-processes (wait: false)"
)


def _each_errors(path: str, step: Mapping[str, Any], known: set[str]) -> Iterable[DefinitionError]:
    spec = step["for_each"]
    where = f"{path}.for_each"
    yield from _expression_errors(f"{where}.items", spec["items"], known)
    if "complete_when" in spec:
        yield from _expression_errors(f"{where}.complete_when", spec["complete_when"],
                                      known | EACH_NAMES)  # fmt: skip
    elif "rest" in spec:
        yield DefinitionError(f"{where}.rest", gettext("applies with complete_when"))
    if step.get("wait") is False:
        for name in ("mode", "complete_when", "rest", "add_on"):
            if name in spec:
                yield DefinitionError(f"{where}.{name}", str(NOT_WAITING))


def _approval_errors(
    path: str, step: Mapping[str, Any], known: set[str], ctx: Context
) -> Iterable[DefinitionError]:
    local = set(known)
    if "for_each" in step:
        yield from _expression_errors(f"{path}.for_each.items", step["for_each"]["items"], known)
        local.add(step["for_each"]["as"])
    if "title" in step:
        yield from _template_errors(f"{path}.title", step["title"], local)
    if isinstance(step.get("priority"), str) and "{{" in step["priority"]:
        yield from _template_errors(f"{path}.priority", step["priority"], local)
    yield from _assignee_errors(f"{path}.assignees", step["assignees"], local, ctx, allocates=True)
    outcomes = set(step["outcomes"])

    def outcome_error(where: str, name: str) -> Iterable[DefinitionError]:
        if name not in outcomes:
            yield DefinitionError(where, gettext("unknown outcome {name!r}").format(name=name))

    quorum = step.get("quorum")
    counted = quorum.get("outcome") if isinstance(quorum, dict) else None
    if quorum not in (None, "any") and counted is None and "approve" not in outcomes:
        yield DefinitionError(
            f"{path}.quorum",
            gettext(
                "name the outcome the quorum counts ({required: ..., outcome: ...}); this step "
                "has no 'approve' outcome"
            ),
        )
    if isinstance(quorum, dict):
        if "outcome" in quorum:
            yield from outcome_error(f"{path}.quorum.outcome", quorum["outcome"])
        for i, name in enumerate(quorum.get("veto") or []):
            yield from outcome_error(f"{path}.quorum.veto[{i}]", name)
    for i, form_field in enumerate(step.get("form") or []):
        for j, name in enumerate(form_field.get("required_for") or []):
            yield from outcome_error(f"{path}.form[{i}].required_for[{j}]", name)
        if form_field["name"] == COMMENT_FIELD and form_field["type"] not in TEXT_FIELDS:
            yield DefinitionError(
                f"{path}.form[{i}].type",
                gettext("a field named 'comment' is the decision's comment: text or textarea"),
            )
        if form_field["type"] == "choice" and not form_field.get("choices"):
            yield DefinitionError(
                f"{path}.form[{i}].choices", gettext("is required for a choice field")
            )
        if "pattern" in form_field and form_field["type"] not in TEXT_FIELDS:
            where = f"{path}.form[{i}].pattern"
            yield DefinitionError(where, gettext("applies to text and textarea fields only"))
        elif "pattern" in form_field:
            yield from _pattern_errors(f"{path}.form[{i}]", form_field)
    for i, level in enumerate(step.get("escalation") or []):
        where = f"{path}.escalation[{i}]"
        if "to" in level:
            yield from _assignee_errors(f"{where}.to", level["to"], local, ctx)
        action = level["action"]
        if action == "decide":
            yield from outcome_error(f"{where}.outcome", level["outcome"])
        elif "outcome" in level:
            yield DefinitionError(f"{where}.outcome", gettext("only a decide level has an outcome"))
        if "to" in level and action not in {"reassign", "add", "notify"}:
            yield DefinitionError(
                f"{where}.to",
                gettext("a {action} level sends to nobody else").format(action=action),
            )
        if "message" in level:
            if action == "decide":
                yield DefinitionError(f"{where}.message", gettext("a decide level sends no email"))
            yield from _template_errors(f"{where}.message", level["message"], local)
    chain = step.get("for_each")
    if chain and "complete_when" in chain:
        yield from _expression_errors(f"{path}.for_each.complete_when", chain["complete_when"],
                                      known | EACH_NAMES | {"counts"})  # fmt: skip
        if "outcome" not in chain:
            yield DefinitionError(
                f"{path}.for_each.outcome",
                gettext("is required with complete_when: the outcome it decides"),
            )
        else:
            yield from outcome_error(f"{path}.for_each.outcome", chain["outcome"])
    elif chain and "outcome" in chain:
        yield DefinitionError(f"{path}.for_each.outcome", gettext("applies with complete_when"))
    if chain and chain.get("mode", "sequential") == "sequential" and "quorum" in step:
        yield DefinitionError(
            f"{path}.quorum",
            gettext("a sequential chain decides entry by entry; quorum applies to parallel chains"),
        )


def _wait_errors(path: str, step: Mapping[str, Any], known: set[str]) -> Iterable[DefinitionError]:
    if "first_of" in step:
        yield from _first_of_errors(path, step, known)
        return
    given = [name for name in ("timer", "until", "message") if name in step]
    if len(given) != 1:
        yield DefinitionError(path, gettext("needs exactly one of timer, until, message, first_of"))
    if "next" not in step:
        yield DefinitionError(f"{path}.next", gettext("is required"), code="required")
    if "until" in step:
        yield from _expression_errors(f"{path}.until", step["until"], known)
    if "timeout" in step and "message" not in step:
        yield DefinitionError(f"{path}.timeout", gettext("only a message wait has a timeout"))
    if "timeout" in step and "on_timeout" not in step:
        yield DefinitionError(f"{path}.on_timeout", gettext("is required with timeout"))
    if "on_timeout" in step and "timeout" not in step:
        yield DefinitionError(f"{path}.timeout", gettext("is required with on_timeout"))


def _first_of_errors(
    path: str, step: Mapping[str, Any], known: set[str]
) -> Iterable[DefinitionError]:
    """A wait for whichever of several events comes first: each branch is one
    message, timer or until with its own next; the step has none of its own."""
    own = [name for name in ("timer", "until", "message", "timeout", "on_timeout", "next",
                             "events") if name in step]  # fmt: skip
    if own:
        yield DefinitionError(
            path,
            gettext("a first_of wait takes each event and next in its branches, not {v0}").format(
                v0=", ".join(own)
            ),
        )
    yield from _event_list_errors(f"{path}.first_of", step["first_of"], known)


# What a step's attached event or a first_of branch waits for: exactly one.
EVENT_TRIGGERS = ("timer", "until", "message", "condition", "error")
# Steps that can end with a business error code (their `error` events).
ERROR_STEPS = frozenset({"service", "http", "subprocess"})


def _event_list_errors(
    path: str, events: list[Mapping[str, Any]], known: set[str], *, step_kind: str = "wait"
) -> Iterable[DefinitionError]:
    """A `first_of` wait's branches or a step's attached `events`: each exactly
    one trigger (with its own next); a message once. `error` events belong to
    steps that end with error codes; `interrupting: false` and `every` to
    attached events (an error interrupts by nature)."""
    seen: set[str] = set()
    offered = [t for t in EVENT_TRIGGERS if t != "error" or step_kind in ERROR_STEPS]
    for i, event in enumerate(events):
        where = f"{path}[{i}]"
        given = [name for name in EVENT_TRIGGERS if name in event]
        if len(given) != 1:
            yield DefinitionError(
                where, gettext("needs exactly one of {v0}").format(v0=", ".join(offered))
            )
        elif given[0] == "error" and step_kind not in ERROR_STEPS:
            yield DefinitionError(
                f"{where}.error",
                gettext("a {step_kind} step ends with no error code to catch").format(
                    step_kind=step_kind
                ),
            )
        quiet = event.get("interrupting") is False
        if quiet and "error" in event:
            yield DefinitionError(
                f"{where}.interrupting", gettext("a step that failed cannot go on")
            )
        if "every" in event and not (quiet and "timer" in event):
            yield DefinitionError(
                f"{where}.every", gettext("repeats a timer event with interrupting: false")
            )
        for field_name in ("until", "condition"):
            if field_name in event:
                yield from _expression_errors(f"{where}.{field_name}", event[field_name], known)
        name = event.get("message")
        if name is not None and name in seen:
            yield DefinitionError(
                f"{where}.message",
                gettext("{name!r} is already an event of this step").format(name=name),
            )
        if name is not None:
            seen.add(name)
