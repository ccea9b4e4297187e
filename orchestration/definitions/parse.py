"""Source text (YAML or JSON, same structure) -> plain data."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
from typing import Any

import yaml
from django.utils.translation import gettext

from orchestration import limits
from orchestration.definitions.errors import DefinitionError, DefinitionInvalid

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 20


def _limit(name: str, default: int) -> int:
    from django.conf import settings

    return int(getattr(settings, name, default))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: YAML would silently keep the last one,
    so a step defined twice would lose its first body without a word.

    It also refuses anchors and aliases (`&a` / `*a`): a few lines of aliases
    expand into billions of nodes (the "billion laughs"), and a definition has
    no need for them. Nesting is capped while composing, before the recursive
    constructor could run out of stack."""

    max_depth = DEFAULT_MAX_DEPTH

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            what = "aliases (*name)" if isinstance(event, yaml.AliasEvent) else "anchors (&name)"
            raise yaml.composer.ComposerError(
                None, None, f"{what} are not allowed", event.start_mark
            )
        depth = getattr(self, "_depth", 0)
        if depth >= self.max_depth:
            raise yaml.composer.ComposerError(
                None, None,
                f"nested deeper than {self.max_depth} levels (ORCHESTRATION_MAX_DEFINITION_DEPTH)",
                event.start_mark,
            )  # fmt: skip
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


# Sizes checked on the text of a scalar, before it becomes a value anything
# hashes, compares or stores: Python turns a 5,000-digit number into an int
# only with an error, and a key may not be a list or a mapping (unhashable).
MAX_NUMBER_CHARS = 100
MAX_TEXT_CHARS = 100_000


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be text, not {kind}", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _sized(tag: str, limit: int, what: str) -> None:
    build = yaml.SafeLoader.yaml_constructors[tag]

    def construct(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
        if len(node.value) > limit:
            raise yaml.constructor.ConstructorError(
                None, None, f"{what} longer than {limit} characters", node.start_mark
            )
        return build(loader, node)

    _UniqueKeyLoader.add_constructor(tag, construct)


_sized("tag:yaml.org,2002:int", MAX_NUMBER_CHARS, "a number")
_sized("tag:yaml.org,2002:float", MAX_NUMBER_CHARS, "a number")
_sized("tag:yaml.org,2002:str", MAX_TEXT_CHARS, "a text")
# YAML 1.2 scalars, not YAML 1.1: dates stay strings (a definition has no date type,
# and `until: 2026-12-01` must not become a datetime.date), and only true/false are
# booleans, so a step or outcome named yes, no, on or off stays a string.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_source(text: str) -> dict[str, Any]:
    """Parse YAML (JSON is YAML too); raise DefinitionInvalid with a `definition:` error,
    or with the path of a value that is not JSON data (only JSON types survive:
    a definition is stored and compared as JSON)."""
    size = len(text.encode())
    max_bytes = _limit("ORCHESTRATION_MAX_DEFINITION_BYTES", DEFAULT_MAX_BYTES)
    if size > max_bytes:
        raise DefinitionInvalid(
            [DefinitionError(
                "definition",
                gettext("{size} bytes, more than {max_bytes}"
                        " (ORCHESTRATION_MAX_DEFINITION_BYTES)").format(size=size,
                                                                          max_bytes=max_bytes),
            )]
        )  # fmt: skip
    loader = None
    try:
        # The reader refuses control characters while it is made, not while it reads.
        loader = _UniqueKeyLoader(text)
        loader.max_depth = _limit("ORCHESTRATION_MAX_DEFINITION_DEPTH", DEFAULT_MAX_DEPTH)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (gettext(" (line {line}, column {column})").format(line=mark.line + 1,
                                                                     column=mark.column + 1)
                 if mark else "")  # fmt: skip
        problem = exc.problem or exc.context or "invalid YAML"
        raise DefinitionInvalid(
            [
                DefinitionError(
                    "definition",
                    gettext("YAML does not parse: {problem}{where}").format(
                        problem=problem, where=where
                    ),
                    # The position travels with the error (locate.py), not only in its words.
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionInvalid(
            [DefinitionError("definition", gettext("YAML does not parse: {exc}").format(exc=exc))]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if isinstance(data, dict):
        not_json = _not_json(data, [])
        if not_json:
            raise DefinitionInvalid([not_json])
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise DefinitionInvalid(
            [
                DefinitionError(
                    "definition",
                    gettext("must be a mapping of fields, got {kind}").format(kind=kind),
                )
            ]
        )
    return data


def canonical_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(spec: dict[str, Any]) -> str:
    """Identity of a definition's meaning: formatting and comments do not count."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def _not_json(value: Any, path: list[Any]) -> DefinitionError | None:
    """The first value that JSON cannot hold as it is: `!!binary`, `!!set`, an
    explicit `!!timestamp`, `.nan`/`.inf`, a key that is not a string."""
    from orchestration.definitions.validate import render_path

    if isinstance(value, str):
        problem = limits.text_problem(value)
        return (
            DefinitionError(
                render_path(path), gettext("text with {problem}").format(problem=problem)
            )
            if problem
            else None
        )
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return DefinitionError(
            render_path(path), gettext("{value} is not a finite number").format(value=value)
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return DefinitionError(
                    render_path(path),
                    gettext("key {key!r} is not a string (keys are strings in JSON)").format(
                        key=key
                    ),
                )
            problem = limits.text_problem(key)
            if problem:
                return DefinitionError(
                    render_path(path), gettext("a key with {problem}").format(problem=problem)
                )
            found = _not_json(item, [*path, key])
            if found:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_json(item, [*path, i])
            if found:
                return found
        return None
    kinds = {bytes: "!!binary", set: "!!set", datetime.date: "!!timestamp",
             datetime.datetime: "!!timestamp"}  # fmt: skip
    kind = kinds.get(type(value), type(value).__name__)
    return DefinitionError(
        render_path(path),
        gettext(
            "{kind} values are not allowed (only strings, numbers, booleans, null, lists and "
            "mappings)"
        ).format(kind=kind),
    )
