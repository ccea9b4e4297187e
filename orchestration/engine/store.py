"""Named storage operations of the engine: the only module that uses engine/sql.py.

Each function is one thing the engine reads or writes on its hot paths (lock
these instances, claim due runs, read a decision's task, write a transition
batch, withdraw what a token waited on). The hand-written statements behind
them stay here; the runtime, the worker and the services never write SQL text
or touch QuerySet internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from orchestration.engine import sql
from orchestration.engine.versions import attach_versions
from orchestration.models import (
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    StepRun,
    TaskExclusion,
    TaskVote,
    Timer,
)
from orchestration.states import RunStatus, TaskStatus, TimerStatus

NOTIFY_CHANNEL = "orchestration_work"


# ---- reads under locks ----------------------------------------------------------------
def _lock_query(ids: Iterable[int], *, skip_locked: bool = False) -> sql.Query:
    """The instance rows `ids`, locked in id order (the one lock order)."""
    where, params = sql.in_("id", sorted(set(ids)))
    return sql.Query(
        ProcessInstance, f"WHERE {where} ORDER BY id", params, lock=True, skip_locked=skip_locked
    )


def _by_id(rows: list[ProcessInstance]) -> dict[int, ProcessInstance]:
    attach_versions(rows)
    return {row.pk: row for row in rows}


def lock_instances(ids: Iterable[int], *, skip_locked: bool = False) -> dict[int, ProcessInstance]:
    """Lock instance rows in id order and return them by id, with their versions.

    Callers that already hold other row locks (timer and lease sweeps) pass
    skip_locked=True: waiting for an instance there could deadlock with a
    service that holds the instance and waits for those rows.
    """
    ids = list(ids)
    if not ids:
        return {}
    return _by_id(sql.select_all(_lock_query(ids, skip_locked=skip_locked))[0])


def lock_instances_and_runs(
    instance_ids: Iterable[int], run_ids: Sequence[int]
) -> tuple[dict[int, ProcessInstance], dict[int, StepRun]]:
    """Lock instances, then read runs, in one round trip: the runs are read after
    the lock is granted, so a run fenced off while we waited shows its new status."""
    where, params = sql.in_("id", list(run_ids))
    rows, runs = sql.select_all(
        _lock_query(instance_ids), sql.Query(StepRun, f"WHERE {where}", params)
    )
    return _by_id(rows), {run.pk: run for run in runs}


def lock_for_decision(task_id: int) -> tuple[ProcessInstance, HumanTask] | None:
    """Lock the instance of a task, then read the task (its candidates are in
    its row) with its exclusions and votes so far (one round trip). The task
    is read by a second statement, so it shows a decision committed while we
    waited for the lock. None when there is no such task."""
    found, tasks, exclusions, votes = sql.select_all(
        sql.Query(
            ProcessInstance,
            f"WHERE id = (SELECT instance_id FROM {sql.table(HumanTask)} WHERE id = %s)",  # noqa: S608
            [task_id],
            lock=True,
        ),
        sql.Query(HumanTask, "WHERE id = %s", [task_id]),
        sql.Query(TaskExclusion, "WHERE task_id = %s", [task_id]),
        sql.Query(TaskVote, "WHERE task_id = %s ORDER BY id", [task_id]),
    )
    if not found or not tasks:
        return None
    attach_versions(found)
    task = tasks[0]
    sql.prefetched(task, "exclusions", exclusions)
    sql.prefetched(task, "votes", votes)
    task.instance = found[0]
    return found[0], task


def claim_ready_runs(*, due_by: datetime, limit: int) -> list[StepRun]:
    """Ready runs due by `due_by`, locked (SKIP LOCKED: another worker's claim is
    left to it), each with its instance and version: the in-flight lane oldest
    first, then new instances' first steps oldest first (StepRun.lane). One
    statement: the second lane is read, and its rows locked, only as far as
    the first leaves room under `limit`."""
    lanes = [
        sql.Query(
            StepRun,
            f"WHERE {sql.table(StepRun)}.status = %s AND topic = %s AND lane = %s"
            " AND due_at <= %s ORDER BY due_at LIMIT %s",
            [RunStatus.READY, "", lane, due_by, limit],
            lock=True,
            skip_locked=True,
            related="instance",
        )
        for lane in (StepRun.IN_FLIGHT, StepRun.NEW)
    ]
    text = " UNION ALL ".join(f"SELECT * FROM ({q.sql}) AS lane{n}" for n, q in enumerate(lanes))  # noqa: S608
    runs = sql.rows_of(lanes[0], f"{text} LIMIT %s", [*lanes[0].params, *lanes[1].params, limit])
    attach_versions(run.instance for run in runs)
    return runs


def ids_by_name(
    usernames: Iterable[str], group_names: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Ids of users (by username) and groups (by name) named in a definition."""
    return _ids(get_user_model(), set(usernames)), _ids(Group, set(group_names))


def _ids(model: type[Any], names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    column = model.USERNAME_FIELD if hasattr(model, "USERNAME_FIELD") else "name"
    column = model._meta.get_field(column).column
    where, params = sql.in_(column, sorted(names))
    found = sql.fetch(f"SELECT {column}, id FROM {sql.table(model)} WHERE {where}", params)  # noqa: S608
    return dict(found)


# ---- writes ---------------------------------------------------------------------------
@contextmanager
def batch() -> Iterator[None]:
    """The writes of the block travel together (one round trip on PostgreSQL)."""
    with sql.pipeline():
        yield


def insert_instance(instance: ProcessInstance) -> None:
    sql.insert(ProcessInstance, [instance])


def save_instances(instances: Iterable[ProcessInstance]) -> None:
    sql.update(
        ProcessInstance,
        instances,
        ["status", "result", "variables", "state", "error", "updated_at", "ended_at"],
    )


def save_leases(runs: Sequence[StepRun]) -> None:
    sql.update(StepRun, runs, ["status", "worker", "started_at", "lease_until"])


def save_run_results(runs: Sequence[StepRun]) -> None:
    sql.update(StepRun, runs, ["status", "ended_at", "error", "lease_until"])


def save_deferred_runs(runs: Sequence[StepRun]) -> None:
    sql.update(StepRun, runs, ["due_at", "error"])


def insert_runs(runs: Sequence[StepRun], *, with_ids: bool) -> None:
    """New attempts; with_ids when the caller runs them next and needs their ids."""
    sql.insert(StepRun, runs, returning=with_ids)


def save_fired_timers(timers: Sequence[Timer]) -> None:
    sql.update(Timer, timers, ["status", "fired_at"])


def save_deferred_timers(timers: Sequence[Timer]) -> None:
    sql.update(Timer, timers, ["due_at", "payload"])


def insert_timers(timers: Sequence[Timer]) -> None:
    sql.insert(Timer, timers, returning=False)


def insert_events(events: Sequence[ProcessEvent]) -> None:
    sql.insert(ProcessEvent, events, returning=False)


def insert_votes(votes: Sequence[TaskVote]) -> None:
    sql.insert(TaskVote, votes, returning=False)


def save_decided_tasks(tasks: Sequence[HumanTask]) -> None:
    sql.update(HumanTask, tasks, ["status", "outcome", "data", "decided_by", "decided_at"])


def insert_tasks(tasks: Sequence[HumanTask]) -> None:
    """Insert tasks (their ids are set), candidates included."""
    sql.insert(HumanTask, tasks)


def change_candidates(
    task: HumanTask, user_ids: Sequence[int], group_ids: Sequence[int], *, replace: bool
) -> None:
    """Who may decide a task: replaced by, or widened with, these users and
    groups (the task object is changed too)."""
    if replace:
        task.candidate_users, task.candidate_groups = list(user_ids), list(group_ids)
    else:
        task.candidate_users = _union(task.candidate_users, user_ids)
        task.candidate_groups = _union(task.candidate_groups, group_ids)
    sql.update(HumanTask, [task], ["candidate_users", "candidate_groups"])


def _union(ids: Sequence[int], more: Sequence[int]) -> list[int]:
    return list(dict.fromkeys([*ids, *more]))


def save_task_holders(task: HumanTask) -> None:
    """Who holds a task (claimer, delegate and their note)."""
    sql.update(HumanTask, [task], ["claimed_by", "delegate", "delegate_note", "snoozed_until"])


def route_candidate(task: HumanTask, from_user: int, to_user: int) -> None:
    """A task offered to `from_user` by name goes to `to_user` instead."""
    task.candidate_users = _union([u for u in task.candidate_users if u != from_user], [to_user])
    sql.update(HumanTask, [task], ["candidate_users"])


def insert_exclusions(rows: Sequence[TaskExclusion]) -> None:
    sql.insert(TaskExclusion, rows, returning=False)


def withdraw(
    instance_id: int, token: str, *, tasks: bool, timers: bool, runs: bool, now: datetime,
    withdrawn: bool = False,
) -> None:  # fmt: skip
    """Cancel what a token waited on: its open tasks (as withdrawn when an event
    attached to the step withdrew it), pending timers and queued or running
    attempts (a running attempt is fenced off: its result will find the run
    cancelled)."""
    mine = "instance_id = %s AND token = %s AND status"
    if tasks:
        _withdraw_tasks(
            instance_id, token, now, TaskStatus.WITHDRAWN if withdrawn else TaskStatus.CANCELLED
        )
    if timers:
        sql.update_where(
            Timer, {"status": TimerStatus.CANCELLED, "fired_at": now},
            f"{mine} = %s", [instance_id, token, TimerStatus.PENDING],
        )  # fmt: skip
    if runs:
        sql.update_where(
            StepRun, {"status": RunStatus.CANCELLED, "ended_at": now},
            f"{mine} IN (%s, %s)", [instance_id, token, RunStatus.READY, RunStatus.RUNNING],
        )  # fmt: skip


def notify_workers() -> None:
    """Wake the engine loops; PostgreSQL delivers it at commit, and only then."""
    if connection.vendor == "postgresql":
        sql.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


def _withdraw_tasks(instance_id: int, token: str, now: datetime, status: str) -> None:
    """A token's open tasks close (and so leave people's lists)."""
    sql.update_where(
        HumanTask, {"status": status, "decided_at": now},
        "instance_id = %s AND token = %s AND status = %s",
        [instance_id, token, TaskStatus.OPEN],
    )  # fmt: skip
