"""Source text (YAML or JSON, same structure) -> plain data."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml

from orchestration.definitions.errors import DefinitionError, DefinitionInvalid


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: YAML would silently keep the last one,
    so a step defined twice would lose its first body without a word."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
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
    """Parse YAML (JSON is YAML too); raise DefinitionInvalid with a `definition:` error."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise DefinitionInvalid(
            [DefinitionError("definition", f"YAML does not parse: {problem}{where}")]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionInvalid(
            [DefinitionError("definition", f"YAML does not parse: {exc}")]
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise DefinitionInvalid(
            [DefinitionError("definition", f"must be a mapping of fields, got {kind}")]
        )
    return data


def canonical_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(spec: dict[str, Any]) -> str:
    """Identity of a definition's meaning: formatting and comments do not count."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
