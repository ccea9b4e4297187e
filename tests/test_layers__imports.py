"""Imports point one way: the layers named here never import what sits above
them, at module level or inside a function (the AST is read, nothing runs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a layer may never import (a module, or any module under it).
RULES = {
    "orchestration/models": ["orchestration.engine", "orchestration.services",
                             "orchestration.jobs", "orchestration.side_effects", "api", "tasks_ui"],
    "orchestration/states.py": ["orchestration.engine", "orchestration.services",
                                "orchestration.jobs", "orchestration.side_effects"],
    "orchestration/audit": ["orchestration.engine", "orchestration.services", "orchestration.jobs",
                            "orchestration.side_effects", "api", "tasks_ui"],
    "orchestration/side_effects": ["orchestration.engine", "orchestration.services",
                                   "orchestration.jobs", "api", "tasks_ui"],
    "orchestration/engine": ["orchestration.services", "orchestration.jobs",
                             "orchestration.side_effects", "api", "tasks_ui"],
    "orchestration/services": ["orchestration.jobs", "api", "tasks_ui"],
    # Erasure clears the API's stored answers and access lines: its models only.
    "orchestration/retention": ["orchestration.jobs", "orchestration.side_effects", "api.views",
                                "api.serializers", "api.urls", "tasks_ui"],
}  # fmt: skip


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def files(layer: str) -> list[Path]:
    where = ROOT / layer
    return [where] if where.suffix == ".py" else sorted(where.rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(RULES))
def test_a_layer_never_imports_what_sits_above_it(layer: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files(layer)
        for name in sorted(imported(path))
        for banned in RULES[layer]
        if name == banned or name.startswith(banned + ".")
    ]
    assert files(layer) and not wrong, "\n".join(wrong)
