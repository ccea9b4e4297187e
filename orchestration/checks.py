"""System checks: fail fast on configuration the engine cannot run with."""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError


@checks.register()
def check_handler_modules(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for module in getattr(settings, "ORCHESTRATION_HANDLER_MODULES", []):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"ORCHESTRATION_HANDLER_MODULES lists {module!r}, "
                    f"which cannot be imported: {exc}",
                    id="orchestration.E001",
                )
            )
    return errors


@checks.register(checks.Tags.database, deploy=True)
def check_published_handlers(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Published versions must only name handlers this deployment registers.

    Runs with `check --deploy --database default`; like Django's own database
    checks it does nothing unless a database is named.
    """
    from orchestration.definitions.graph import all_steps
    from orchestration.handlers import handler_names, resolver_names
    from orchestration.models import ProcessVersion
    from orchestration.states import VersionStatus

    if not databases:
        return []
    registered = handler_names()
    resolvers = resolver_names()
    errors: list[checks.CheckMessage] = []
    live = ProcessVersion.objects.filter(
        status__in=[VersionStatus.PUBLISHED, VersionStatus.DEPRECATED]
    ).select_related("definition")
    try:
        versions = list(live)
    except DatabaseError:
        return []  # not migrated yet: nothing is published
    for version in versions:
        for step_id, step in all_steps(version.spec).items():
            for field_name in ("handler", "compensate"):
                name = step.get(field_name) if step["type"] == "service" else None
                if name and name not in registered:
                    errors.append(
                        checks.Error(
                            f"{version}: steps.{step_id}.{field_name} names handler {name!r}, "
                            "which is not registered",
                            id="orchestration.E002",
                        )
                    )
            resolver = (step.get("assignees") or {}).get("resolver")
            if step["type"] == "approval" and resolver and resolver not in resolvers:
                errors.append(
                    checks.Error(
                        f"{version}: steps.{step_id}.assignees.resolver names resolver "
                        f"{resolver!r}, which is not registered",
                        id="orchestration.E003",
                    )
                )
    return errors


@checks.register()
def check_engine_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Engine settings that would otherwise fail only when a step runs."""
    from orchestration.definitions.durations import DurationError, parse_duration

    errors: list[checks.CheckMessage] = []
    try:
        parse_duration(settings.ORCHESTRATION_DEFAULT_STEP_TIMEOUT)
    except DurationError as exc:
        errors.append(
            checks.Error(f"ORCHESTRATION_DEFAULT_STEP_TIMEOUT: {exc}", id="orchestration.E004")
        )
    if settings.ORCHESTRATION_CALENDAR is not None:
        from orchestration.definitions.validate import calendar_errors

        for problem in calendar_errors(settings.ORCHESTRATION_CALENDAR):
            errors.append(
                checks.Error(
                    f"ORCHESTRATION_CALENDAR: {problem.path}: {problem.message}",
                    id="orchestration.E006",
                )
            )
    try:
        from orchestration.retention.rules import site_retention

        site_retention()
    except DurationError as exc:
        errors.append(checks.Error(
            f"ORCHESTRATION_RETENTION: {exc} (a duration such as 365d, or forever)",
            id="orchestration.E009",
        ))  # fmt: skip
    from orchestration import sensitive

    if sensitive.configured():
        try:
            sensitive.fernet()
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="orchestration.E010"))
    if settings.ORCHESTRATION_SUBPROCESS_DEPTH < 1:
        errors.append(
            checks.Error(
                "ORCHESTRATION_SUBPROCESS_DEPTH must be at least 1", id="orchestration.E005"
            )
        )
    return errors


@checks.register()
def check_operations_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """What /metrics and /readyz read: refused at start-up, not at the first scrape."""
    import ipaddress

    errors: list[checks.CheckMessage] = []
    for item in settings.ORCHESTRATION_METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            errors.append(checks.Error(
                f"ORCHESTRATION_METRICS_ALLOWED_IPS: {item!r} is not an address or a network"
                " (e.g. 10.0.0.0/8)", id="orchestration.E007",
            ))  # fmt: skip
    for name in ("ORCHESTRATION_READY_HEARTBEAT_SECONDS", "ORCHESTRATION_READY_SEALING_LAG_SECONDS",
                 "ORCHESTRATION_READY_OUTBOX_LAG_SECONDS"):  # fmt: skip
        if getattr(settings, name) < 1:
            errors.append(checks.Error(f"{name} must be at least 1 (seconds)",
                                       id="orchestration.E008"))  # fmt: skip
    return errors
