"""Moving live instances from one version of a definition to another: the
plan (what each instance would do, or why it cannot move) and the move."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext

from accounts import permissions
from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.definitions.graph import all_steps
from orchestration.definitions.migration import step_shape_problem
from orchestration.engine import state
from orchestration.engine.events import Moved
from orchestration.engine.runtime import Writer
from orchestration.engine.store import lock_instances
from orchestration.exceptions import InvalidInput, MigrationRefused
from orchestration.models import HumanTask, ProcessInstance, ProcessVersion, StepRun, Timer
from orchestration.states import HOLDING, InstanceStatus, TaskStatus

if TYPE_CHECKING:
    from accounts.models import User


def _versions(key: str, source: int, target: int) -> tuple[ProcessVersion, ProcessVersion]:
    versions = {
        v.number: v
        for v in ProcessVersion.objects.filter(definition__key=key, number__in=[source, target])
    }
    if source not in versions or target not in versions:
        missing = [n for n in (source, target) if n not in versions]
        words = gettext("%(key)r has no version %(n)s")
        raise InvalidInput({"version": [words % {"key": key, "n": n} for n in missing]})
    to_version = versions[target]
    if to_version.status not in {"published", "deprecated"}:
        raise InvalidInput({"to": [gettext("version %(n)s is %(status)s, not published")
                                   % {"n": target, "status": to_version.status}]})  # fmt: skip
    return versions[source], to_version


def _plan(
    instances: Mapping[int, ProcessInstance], old: ProcessVersion, new: ProcessVersion,
    mapping: Mapping[str, str],
) -> list[dict[str, Any]]:  # fmt: skip
    """Per instance: where each of its places (current steps, steps awaiting
    compensation) goes, and the first reason it cannot move (or None)."""
    target_steps, old_steps = all_steps(new.spec), all_steps(old.spec)
    lines: dict[int, dict[str, Any]] = {}
    for instance in instances.values():
        current = state.current_steps(instance.state)
        line: dict[str, Any] = {"instance": instance.pk, "status": instance.status,
                                "moves": [], "problem": None}  # fmt: skip
        lines[instance.pk] = line
        if instance.status in HOLDING:  # its held work would be applied to the wrong version
            line["problem"] = (gettext("it is %(status)s: resume it first")
                               if instance.status == InstanceStatus.SUSPENDED
                               else gettext("it is %(status)s: retry or cancel it first")) % {
                "status": instance.status}  # fmt: skip
        for step in sorted(state.places(instance.state)):
            to = mapping.get(step, step)
            line["moves"].append({"from": step, "to": to, "current": step in current})
            if line["problem"]:
                continue
            if to not in target_steps:
                line["problem"] = gettext("step %(step)r has no counterpart in version %(n)s") % {
                    "step": step, "n": new.number}  # fmt: skip
            elif old_steps[step]["type"] != target_steps[to]["type"]:
                line["problem"] = gettext("step %(step)r (%(old)s) maps to %(to)r (%(new)s)") % {
                    "step": step, "old": old_steps[step]["type"], "to": to,
                    "new": target_steps[to]["type"]}  # fmt: skip
            elif step in current:
                line["problem"] = step_shape_problem(old.spec, new.spec, step, mapping)
    open_tasks = HumanTask.objects.filter(
        instance__in=list(instances), status=TaskStatus.OPEN
    ).values_list("instance_id", "step", "outcomes")
    for instance_id, step, outcomes in open_tasks:
        to = mapping.get(step, step)
        offered = (target_steps.get(to) or {}).get("outcomes") or {}
        lacking = [o for o in outcomes if o not in offered]
        if lacking and not lines[instance_id]["problem"]:
            lines[instance_id]["problem"] = gettext(
                "open task at %(step)r offers outcome %(outcome)r, which version %(n)s's"
                " %(to)r lacks"
            ) % {"step": step, "outcome": lacking[0], "n": new.number, "to": to}
    return [lines[pk] for pk in sorted(lines)]


def instance_migration_plan(
    *, key: str, source: int, target: int, mapping: dict[str, str], actor: User | None
) -> list[dict[str, Any]]:
    """A dry run: what each live instance of version `source` would do when
    moved to `target` ({instance, status, moves: [{from, to, current}],
    problem}). Nothing is written or locked."""
    permissions.require(actor, permissions.operate_refusal(actor))
    old, new = _versions(key, source, target)
    live = ProcessInstance.objects.filter(version=old, ended_at__isnull=True).order_by("pk")
    return _plan({i.pk: i for i in live}, old, new, mapping)


def instance_migrate(
    *, key: str, source: int, target: int, mapping: dict[str, str], actor: User | None,
    dry_run: bool = False, now: datetime | None = None,
) -> list[int]:  # fmt: skip
    """Move the live instances of version `source` to version `target`.

    Every current step (and every completed step awaiting compensation) must map
    to a step of the target (same id, or renamed by `mapping`) of the same type,
    and a current step must keep its meaning there (definitions/migration.py).
    If any instance cannot move, none moves: MigrationRefused lists why per
    instance. Returns the ids moved (or that would move, with dry_run).
    """
    permissions.require(actor, permissions.operate_refusal(actor))
    old, new = _versions(key, source, target)
    now = now or clock.now()
    with transaction.atomic():
        ids = list(
            ProcessInstance.objects.filter(version=old, ended_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        instances = lock_instances(ids)
        plan = _plan(instances, old, new, mapping)
        problems = {line["instance"]: line["problem"] for line in plan if line["problem"]}
        if problems:
            raise MigrationRefused(problems)
        if dry_run:
            return sorted(instances)
        writer = Writer(now)
        for instance in instances.values():
            instance.version = new
            writer.apply(
                instance,
                Moved(mapping),
                actor=actor,
                kind=AuditKind.INSTANCE_VERSION_CHANGED,
                payload={"from": source, "to": target, "mapping": mapping},
            )
        writer.flush()
        ProcessInstance.objects.filter(pk__in=list(instances)).update(version=new)
        # Open tasks and queued runs follow their tokens to the new step ids.
        for old_step, new_step in mapping.items():
            HumanTask.objects.filter(instance__in=list(instances), step=old_step).update(
                step=new_step
            )
            StepRun.objects.filter(instance__in=list(instances), step=old_step).update(
                step=new_step
            )
            Timer.objects.filter(instance__in=list(instances), step=old_step).update(step=new_step)
    return sorted(instances)
