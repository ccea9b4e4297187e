"""Every metric the engine exports: its name, kind, help and labels, in one place.

Labels are bounded: definition keys, version numbers, step ids and outcomes
come from published definitions; never an instance id or a person's name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # counter, histogram, gauge
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


# Seconds: an automated step takes milliseconds to minutes.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
# Seconds a timer fired after it was due.
LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)

_ALL = [
    # ---- folded from the audit log ---------------------------------------------------------
    Family("orchestration_instances_started", "counter", "Instances started.",
           ("definition", "version")),
    Family("orchestration_instances_ended", "counter",
           "Instances that ended, by how (completed, failed, cancelled, compensated).",
           ("definition", "version", "status")),
    Family("orchestration_instances_incidents", "counter",
           "Times an instance stopped in an incident.", ("definition", "version")),
    Family("orchestration_step_attempts", "counter",
           "Attempts of automated steps, by result (succeeded, failed).",
           ("definition", "step", "result")),
    Family("orchestration_step_retries", "counter",
           "Retries scheduled after a failed attempt.", ("definition", "step")),
    Family("orchestration_step_failures", "counter",
           "Steps that failed for good (no retry left): an error path or the instance failed.",
           ("definition", "step")),
    Family("orchestration_step_duration_seconds", "histogram",
           "How long one attempt of an automated step took.", ("definition", "step"),
           STEP_BUCKETS),
    Family("orchestration_timer_lateness_seconds", "histogram",
           "How late timers fired after they were due.", ("kind",), LATENESS_BUCKETS),
    Family("orchestration_escalations", "counter", "Escalation levels that fired.",
           ("definition", "level", "action")),
    Family("orchestration_decisions", "counter",
           "Decisions on human tasks (votes, decisions, operators' forced decisions).",
           ("definition", "step", "outcome")),
    Family("orchestration_instances_late", "counter",
           "Instances that ended (not cancelled) after their definition's sla.process.",
           ("definition", "version")),
    Family("orchestration_step_visits_late", "counter",
           "Visits that left a step after its expected duration (sla.steps).",
           ("definition", "step")),
    Family("orchestration_data_removals", "counter",
           "Instances whose personal data was removed, by reason (retention, erasure).",
           ("reason",)),
    Family("orchestration_data_removed_rows", "counter",
           "Audit rows whose personal values were removed, by reason (retention, erasure).",
           ("reason",)),
    Family("orchestration_subject_erasures", "counter", "Erasures by data subject.", ()),
    Family("orchestration_legal_hold_changes", "counter",
           "Legal holds placed and lifted.", ("action",)),
    Family("orchestration_sensitive_views", "counter",
           "Views that showed sensitive values open, by where (api, instance_page, task_page).",
           ("where",)),
    Family("orchestration_sensitive_values_rotated", "counter",
           "Sensitive values re-encrypted with the newest key (rotate_encryption_keys).", ()),
    # ---- counted by their single writer ---------------------------------------------------
    Family("orchestration_webhook_deliveries", "counter",
           "Webhook delivery attempts, by result (delivered, failed, gave_up).", ("result",)),
    # ---- read from the tables at scrape time ------------------------------------------------
    Family("orchestration_instances_live", "gauge", "Instances not ended, by status.",
           ("definition", "version", "status")),
    Family("orchestration_instances_over_sla", "gauge",
           "Live instances running longer than their definition's sla.process.",
           ("definition", "version")),
    Family("orchestration_steps_over_sla", "gauge",
           "Live instances in a step longer than its expected duration (sla.steps).",
           ("definition", "step")),
    Family("orchestration_queue_depth", "gauge",
           "Items due and not yet handled: runs, timers, mail, webhooks, sealing, the metrics "
           "fold, the retention purge.", ("queue",)),
    Family("orchestration_queue_oldest_seconds", "gauge",
           "Age of the oldest item due in each queue (0 when empty).", ("queue",)),
    Family("orchestration_tasks_open", "gauge",
           "Open human tasks, by definition and candidate group (empty: offered to people only).",
           ("definition", "group")),
    Family("orchestration_tasks_overdue", "gauge", "Open human tasks past their due time.",
           ("definition", "group")),
    Family("orchestration_legal_holds_active", "gauge", "Legal holds in force, by scope.",
           ("scope",)),
    Family("orchestration_replica_lag_seconds", "gauge",
           "How far the read replica is behind the primary (NaN: not answering; absent: none).",
           ()),
    Family("orchestration_worker_loops_alive", "gauge",
           "Engine loops with a heartbeat within ORCHESTRATION_READY_HEARTBEAT_SECONDS.", ()),
    Family("orchestration_worker_heartbeat_age_seconds", "gauge",
           "Seconds since the newest engine loop heartbeat (+Inf: none ever).", ()),
]  # fmt: skip

FAMILIES: dict[str, Family] = {family.name: family for family in _ALL}
