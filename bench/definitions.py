"""Benchmark: parsing and validating definitions (pure, no database).

    .venv/bin/python bench/definitions.py

Prints a table: the documented purchase approval, and generated chains of N
service steps with a decision every 10 steps.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import yaml  # noqa: E402

from orchestration.definitions.validate import Context, validate_source  # noqa: E402

CTX = Context(handlers={"h", "demo.check_budget", "demo.place_order", "demo.cancel_order"})


def chain(n: int) -> str:
    steps: dict[str, object] = {}
    for i in range(n):
        if i % 10 == 9:
            steps[f"s{i}"] = {
                "type": "decision",
                "branches": [{"when": f"x > {i}", "next": f"s{i + 1}"}],
                "default": "done",
            }
        else:
            steps[f"s{i}"] = {"type": "service", "handler": "h", "next": f"s{i + 1}"}
    steps[f"s{n}"] = {"type": "end"}
    steps["done"] = {"type": "end"}
    spec = {"key": "chain", "name": "Chain", "variables": {"x": {"type": "number"}},
            "start": "s0", "steps": steps}  # fmt: skip
    return yaml.safe_dump(spec)


def measure(source: str, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        validate_source(source, CTX)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def main() -> None:
    cases = [
        (
            "purchase-approval (7 steps)",
            (ROOT / "orchestration/demo/definitions/purchase-approval.yaml").read_text(),
            300,
        )
    ]
    cases += [(f"chain of {n} steps", chain(n), r) for n, r in ((50, 100), (200, 30), (1000, 5))]
    print(f"{'definition':<30} {'p50 ms':>10} {'p99 ms':>10}")
    for name, source, repeat in cases:
        p50, p99 = measure(source, repeat)
        print(f"{name:<30} {p50:>10.2f} {p99:>10.2f}")


if __name__ == "__main__":
    main()
