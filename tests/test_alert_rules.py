"""The shipped alert rules read metrics this engine exports (promtool, in
.ci/run, checks their syntax and unit-tests them)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orchestration.metrics.catalogue import FAMILIES

RULES = Path(__file__).resolve().parents[1] / "ops/prometheus/rules.yml"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def test_every_metric_an_alert_reads_is_exported() -> None:
    exported = {family.name + suffix for family in FAMILIES.values()
                for suffix in SUFFIXES[family.kind]}  # fmt: skip
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    read = {name for rule in rules for name in re.findall(r"\borchestration_\w+", rule["expr"])}
    assert read and read <= exported, read - exported
    labels = {label for rule in rules for label in re.findall(r"(\w+)=", rule["expr"])}
    known = {label for family in FAMILIES.values() for label in family.labels} | {"le"}
    assert labels <= known, labels - known


def test_the_grafana_dashboard_reads_exported_metrics_only() -> None:
    import json

    from django_prometheus.middleware import Metrics

    dashboard = json.loads((RULES.parents[1] / "grafana/process-engine.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exported = {family.name + suffix for family in FAMILIES.values()
                for suffix in SUFFIXES[family.kind]}  # fmt: skip
    read = {name for expr in exprs for name in re.findall(r"\borchestration_\w+", expr)}
    assert read and read <= exported, read - exported
    from prometheus_client import REGISTRY

    Metrics.get_instance()  # the web metrics, registered as the middleware does

    web = {metric.name + suffix for metric in REGISTRY.collect()
           for suffix in ("", "_total", "_bucket", "_sum", "_count")}  # fmt: skip
    django_read = {name for expr in exprs for name in re.findall(r"\bdjango_\w+", expr)}
    assert django_read <= web, django_read - web
