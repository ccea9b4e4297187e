"""Definition sources for tests: the purchase approval of the docs, and builders."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

DEMO_DIR = Path(__file__).resolve().parents[2] / "orchestration" / "demo" / "definitions"
PURCHASE_SOURCE = (DEMO_DIR / "purchase-approval.yaml").read_text()


def purchase_spec() -> dict[str, Any]:
    return yaml.safe_load(PURCHASE_SOURCE)


def minimal_spec(key: str = "minimal", **steps: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": key,
        "name": key.title(),
        "start": "first",
        "steps": {"first": {"type": "end", "result": "done"}},
    }
    if steps:
        base["steps"] = deepcopy(steps)
        base["start"] = next(iter(steps))
    return base


def dump(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False)
