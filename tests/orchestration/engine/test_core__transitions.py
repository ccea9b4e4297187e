"""The pure core: every step type, error routes, compensation order, cancellation.

No database: a definition, a snapshot, an event and `now` in; snapshot and effects out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from orchestration.engine import core, retries, state
from orchestration.engine.events import (
    Audit,
    Cancel,
    CancelToken,
    ChildFinished,
    CloseTask,
    Finished,
    MessageReceived,
    Moved,
    OpenTask,
    RetryFailed,
    RunStep,
    StartChild,
    Started,
    StartTimer,
    StepFailed,
    StepSucceeded,
    TaskVoted,
    TimerFired,
)
from tests.orchestration.factories import DEMO_DIR

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def demo(key: str) -> core.Definition:
    return core.Definition(yaml.safe_load((DEMO_DIR / f"{key}.yaml").read_text()))


class Run:
    """Drives one instance through the core, keeping the snapshot between events."""

    def __init__(self, definition: core.Definition, **variables: Any) -> None:
        self.d = definition
        self.snap = state.Snapshot(
            status="running", variables=dict(variables), state=state.new_state()
        )
        self.now = NOW
        self.effects: list[Any] = []
        self.send(Started())

    def send(self, event: Any) -> list[Any]:
        result = core.transition(self.d, self.snap, event, now=self.now, key="i1")
        self.snap = result.snapshot
        self.effects = [e for e in result.effects if not isinstance(e, Audit)]
        return self.effects

    def only(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    def run_of(self, step: str) -> RunStep:
        (run,) = [e for e in self.only(RunStep) if e.step == step]
        return run

    def succeed(self, step: str, **outputs: Any) -> list[Any]:
        run = self.run_of(step)
        return self.send(StepSucceeded(run.token, step, run.execution, outputs, run.compensation))

    def fail(self, step: str, code: str, *, retryable: bool = False, **kw: Any) -> list[Any]:
        run = self.run_of(step)
        return self.send(
            StepFailed(
                run.token,
                step,
                run.execution,
                run.attempt,
                code,
                code,
                retryable,
                compensation=run.compensation,
                **kw,
            )
        )


def test_small_purchase_is_auto_approved() -> None:
    run = Run(demo("purchase-approval"), item="pen", amount=5)
    assert run.only(RunStep) == [RunStep("1", "check_budget", 1, 1, NOW)]
    assert run.snap.status == "running"
    run.succeed("check_budget", budget_ok=True)
    assert run.only(Finished) == [Finished("completed", "approved")]
    assert run.snap.status == "completed" and run.snap.result == "approved"
    assert "budget_ok" not in run.snap.variables  # not a declared output


def test_large_purchase_waits_for_a_person_then_places_the_order() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.succeed("check_budget")
    (task,) = run.only(OpenTask)
    assert task.title == "Approve desk for 5000"
    assert (task.groups, task.exclude, task.outcomes) == (
        ["managers"],
        ["starter"],
        ["approve", "reject"],
    )
    assert task.due_at == NOW + timedelta(days=2)
    assert run.snap.status == "waiting"
    run.send(TaskVoted(task.token, "manager_approval", "approve", {"comment": "ok"}, "bob", 7, 3))
    assert run.snap.variables["manager_approval"] == {
        "comment": "ok",
        "outcome": "approve",
        "decided_by": "bob",
    }
    # The core closes the task (quorum any: the first vote decides), then
    # withdraws whatever else the token waited on.
    assert run.only(CloseTask) == [
        CloseTask(task.token, "manager_approval", 7, "approve", {"comment": "ok"}, 3)
    ]
    assert run.only(CancelToken) == [CancelToken(task.token, "task", "manager_approval")]
    run.succeed("place_order")
    assert run.snap.result == "approved"
    assert run.snap.state["done"] == [["place_order", 1]]  # what a cancellation would undo


def test_a_second_decision_is_refused() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.succeed("check_budget")
    (task,) = run.only(OpenTask)
    run.send(TaskVoted(task.token, "manager_approval", "reject", {"comment": "no"}, "bob"))
    assert run.snap.result == "rejected"
    with pytest.raises(core.EngineError):
        run.send(TaskVoted(task.token, "manager_approval", "approve", {}, "carol"))


def test_retryable_errors_back_off_exponentially_with_jitter_then_fail() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)  # backoff 2s, max 5 attempts
    delays = []
    for attempt in range(1, 5):
        run.fail("check_budget", "TIMEOUT", retryable=True)
        (retry,) = run.only(RunStep)
        assert retry.attempt == attempt + 1
        delays.append((retry.due_at - NOW).total_seconds())
    base = [2, 4, 8, 16]
    assert all(b / 2 <= d <= b for d, b in zip(delays, base, strict=True))
    run.fail("check_budget", "TIMEOUT", retryable=True)
    assert run.snap.status == "failed"
    assert run.snap.error["code"] == "TIMEOUT" and run.snap.error["attempt"] == 5


def test_jitter_spreads_retries_of_different_instances_over_the_upper_half() -> None:
    step = {"retry": {"max_attempts": 5, "backoff": "10s"}}
    delays = [retries.backoff_delay(step, 1, salt=f"pi{n}").total_seconds() for n in range(200)]
    assert all(5 <= d <= 10 for d in delays)
    # Spread, not bunched: many distinct delays reaching both ends of the range,
    # with about half of them in each half of it.
    assert len(set(delays)) > 190
    assert min(delays) < 5.5 and max(delays) > 9.5
    assert 60 < sum(d < 7.5 for d in delays) < 140
    # Deterministic per instance and attempt (a replayed event schedules the same
    # retry), different from one attempt to the next.
    assert retries.backoff_delay(step, 1, salt="pi7") == retries.backoff_delay(step, 1, salt="pi7")
    assert [retries.backoff_delay(step, 1, salt=f"pi{n}") for n in range(20)] != [
        retries.backoff_delay(step, 2, salt=f"pi{n}") / 2 for n in range(20)
    ]


def test_backoff_is_capped_and_retry_after_is_honoured() -> None:
    step = {"retry": {"max_attempts": 10, "backoff": "1m", "max_backoff": "5m"}}
    assert retries.backoff_delay(step, 9, salt="x") <= timedelta(minutes=5)
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.fail("check_budget", "HTTP_429", retryable=True, retry_after=120)
    assert run.run_of("check_budget").due_at == NOW + timedelta(seconds=120)


def test_business_error_routes_through_on_error() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    run.fail("charge_payment", "card_declined")
    assert (
        run.snap.status == "failed" and run.snap.result == "payment_failed"
    )  # an end with status failed
    assert run.snap.variables["charge_payment"] == {
        "error": {"code": "card_declined", "message": "card_declined"}
    }
    assert state.is_final(run.snap)


def test_unrouted_business_error_fails_and_an_operator_retries() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.fail("check_budget", "ledger_closed")
    assert run.snap.status == "failed" and not state.is_final(run.snap)
    run.send(RetryFailed())
    assert run.snap.status == "running"
    assert run.run_of("check_budget").attempt == 2
    run.succeed("check_budget")
    assert run.snap.status == "waiting"


def fulfil_until_join(run: Run) -> None:
    run.succeed("charge_payment", payment_ref="PAY-1")
    run.succeed("reserve_inventory", reservation_ref="RES-1")
    assert sorted(r.step for r in run.only(RunStep)) == ["create_shipment", "send_invoice"]


def test_parallel_branches_meet_at_the_join_then_a_message_ends_the_wait() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    runs = {r.step: r for r in run.only(RunStep)}
    run.send(StepSucceeded(runs["send_invoice"].token, "send_invoice", 1, {"invoice_ref": "I"}))
    assert run.effects == [] and run.snap.status == "running"  # one branch still busy
    run.send(
        StepSucceeded(runs["create_shipment"].token, "create_shipment", 1, {"tracking_number": "T"})
    )
    (timer,) = run.only(StartTimer)
    assert (timer.step, timer.kind, timer.due_at) == (
        "await_delivery",
        "message_timeout",
        NOW + timedelta(days=14),
    )
    assert run.snap.status == "waiting"
    run.send(MessageReceived("delivered", {"signed_by": "Ann"}))
    assert run.snap.variables["await_delivery"] == {"signed_by": "Ann"}
    assert run.snap.result == "delivered"
    assert CancelToken(timer.token, "message") in run.effects  # the timeout timer is withdrawn


def test_message_timeout_takes_on_timeout() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    for r in run.only(RunStep):
        run.send(StepSucceeded(r.token, r.step, 1, {}))
    (timer,) = run.only(StartTimer)
    run.send(TimerFired(timer.token, "await_delivery", "message_timeout"))
    (task,) = run.only(OpenTask)
    assert task.step == "lost_in_transit" and task.title == "Order o1 not delivered after 14 days"
    with pytest.raises(core.EngineError, match="nothing is waiting for message 'delivered'"):
        run.send(MessageReceived("delivered", {}))


def test_compensation_runs_in_reverse_completion_order() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    runs = {r.step: r for r in run.only(RunStep)}
    run.send(StepSucceeded(runs["send_invoice"].token, "send_invoice", 1, {}))
    run.send(
        StepFailed(runs["create_shipment"].token, "create_shipment", 1, 1, "no_carrier", "x", False)
    )
    assert run.snap.status == "compensating"
    order = []
    while run.only(RunStep):
        (comp,) = run.only(RunStep)
        assert comp.compensation
        order.append(comp.step)
        run.succeed(comp.step)
    assert order == ["reserve_inventory", "charge_payment"]
    assert (run.snap.status, run.snap.result) == ("failed", "cancelled")  # the `cancelled` end


def test_cancellation_mid_flight_compensates_and_ends_compensated() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    tokens = {r.token for r in run.only(RunStep)}
    run.send(Cancel("customer changed their mind"))
    assert {e.token for e in run.only(CancelToken)} == tokens
    assert run.run_of("reserve_inventory").compensation
    run.succeed("reserve_inventory")
    run.succeed("charge_payment")
    assert run.snap.status == "compensated"
    assert run.only(Finished) == [Finished("compensated", "cancelled")]
    with pytest.raises(core.EngineError):
        run.send(Cancel())


def test_cancelling_a_failed_instance_compensates_what_it_did() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    run.fail("send_invoice", "mail_down")  # no route for it: the instance fails
    assert run.snap.status == "failed"
    run.send(Cancel("give up"))
    # It compensates (it was failed: the status says what happens now) and ends compensated.
    assert run.snap.status == "compensating" and run.run_of("reserve_inventory").compensation
    run.succeed("reserve_inventory")
    run.succeed("charge_payment")
    assert run.snap.status == "compensated"


def test_cancellation_with_nothing_to_undo_ends_cancelled() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.send(Cancel())
    assert run.snap.status == "cancelled"
    assert run.only(CancelToken) == [CancelToken("1", "step")]


def test_failed_compensation_fails_the_instance_naming_the_step_and_can_be_retried() -> None:
    run = Run(demo("order-fulfillment"), order_id="o1", card="4242", quantity=1, country="US")
    fulfil_until_join(run)
    run.send(Cancel())
    run.fail("reserve_inventory", "warehouse_down")
    assert run.snap.status == "failed"
    assert run.snap.error["message"] == "compensation of reserve_inventory failed: warehouse_down"
    run.send(RetryFailed())
    assert run.snap.status == "compensating"
    run.succeed("reserve_inventory")
    run.succeed("charge_payment")
    assert run.snap.status == "compensated"


def test_subprocess_passes_input_and_receives_the_result() -> None:
    run = Run(demo("loan-approval"), applicant="Ann", amount=20000, term_months=12)
    run.succeed("credit_check", body={"score": 800})
    assert run.snap.variables["credit"] == {"score": 800}
    (child,) = run.only(StartChild)
    assert (child.definition, child.variables) == ("identity-check", {"applicant": "Ann"})
    run.send(ChildFinished(child.token, "identity", "completed", "verified", {"applicant": "Ann"}))
    assert run.snap.variables["kyc"]["result"] == "verified"
    assert run.only(RunStep)[0].step == "generate_documents"  # score >= 750 and amount <= 50000


def test_failed_subprocess_fails_the_parent() -> None:
    run = Run(demo("loan-approval"), applicant="Ann", amount=20000, term_months=12)
    run.succeed("credit_check", body={"score": 800})
    (child,) = run.only(StartChild)
    run.send(ChildFinished(child.token, "identity", "failed", "", {}))
    assert run.snap.status == "failed" and run.snap.error["code"] == "CHILD_FAILED"


def wait_definition(**wait: Any) -> core.Definition:
    return core.Definition(
        {
            "key": "w",
            "name": "W",
            "start": "hold",
            "variables": {"when": {"type": "datetime"}},
            "steps": {
                "hold": {"type": "wait", "next": "done", **wait},
                "done": {"type": "end", "result": "ok"},
            },
        }
    )


def test_timer_and_until_waits() -> None:
    run = Run(wait_definition(timer="90s"))
    (timer,) = run.only(StartTimer)
    assert timer.due_at == NOW + timedelta(seconds=90) and run.snap.status == "waiting"
    run.send(TimerFired(timer.token, "hold", "wait"))
    assert run.snap.result == "ok"
    until = Run(wait_definition(until="when"), when="2026-12-01T08:00:00+00:00")
    assert until.only(StartTimer)[0].due_at == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_a_runtime_evaluation_error_fails_the_instance() -> None:
    run = Run(wait_definition(until="when"), when="next tuesday")
    assert run.snap.status == "failed" and run.snap.error["code"] == "EVALUATION"


def test_stale_events_are_refused() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.succeed("check_budget")
    with pytest.raises(core.EngineError, match="no token 1 waiting at check_budget"):
        run.send(StepSucceeded("1", "check_budget", 1, {}))


def test_moving_to_another_version_renames_steps() -> None:
    run = Run(demo("purchase-approval"), item="desk", amount=5000)
    run.succeed("check_budget")
    renamed = dict(demo("purchase-approval").spec)
    steps = dict(renamed["steps"])
    steps["boss_approval"] = steps.pop("manager_approval")
    steps["route"] = {
        **steps["route"],
        "branches": [{"when": "amount > 1000", "next": "boss_approval"}],
    }
    renamed["steps"] = steps
    run.send(Moved({"manager_approval": "boss_approval"}))
    run.d = core.Definition(renamed)
    assert run.snap.state["tokens"]["1"]["step"] == "boss_approval"
    run.send(TaskVoted("1", "boss_approval", "reject", {}, "bob"))
    assert run.snap.result == "rejected"


def test_an_escalation_decides_a_parallel_chain_as_a_whole() -> None:
    # Its `decide` closes every open entry's task (task 0: all of the token's)
    # instead of counting as one entry's vote.
    source = {
        "key": "signs", "name": "Signs", "start": "sign",
        "steps": {
            "sign": {
                "type": "approval", "assignees": {"users": ["{{ who }}"]},
                "for_each": {"items": "people", "as": "who", "mode": "parallel"},
                "quorum": 2,
                "escalation": [{"after": "1d", "action": "decide", "outcome": "reject"}],
                "outcomes": {"approve": "ok", "reject": "no"},
            },
            "ok": {"type": "end", "result": "ok"}, "no": {"type": "end", "result": "no"},
        },
    }  # fmt: skip
    run = Run(core.Definition(source), people=["ann", "bob"])
    first, second = run.only(OpenTask)
    assert (first.entry, second.entry) == (0, 1)
    run.send(TaskVoted(first.token, "sign", "approve", {}, "ann", 11, 1, entry=0))
    assert run.snap.status == "waiting"  # one of two
    run.send(TimerFired(first.token, "sign", "escalation", 0))
    assert run.only(CloseTask) == [CloseTask(first.token, "sign", 0, "reject", {}, None)]
    assert run.snap.result == "no"
    assert run.snap.variables["sign"] == {
        "outcome": "reject", "decided_by": "system",
        "entries": [{"entry": "ann", "outcome": "approve", "by": "ann"}],
    }  # fmt: skip


def test_an_event_attached_to_a_step_withdraws_it_and_leaving_it_drops_the_events() -> None:
    source = {
        "key": "req", "name": "Req", "start": "ask",
        "steps": {
            "ask": {
                "type": "approval", "assignees": {"groups": ["managers"]},
                "events": [{"message": "withdrawn", "next": "gone"},
                           {"timer": "5d", "next": "late"}],
                "outcomes": {"approve": "ok"},
            },
            "ok": {"type": "end", "result": "ok"}, "gone": {"type": "end", "result": "gone"},
            "late": {"type": "end", "result": "late"},
        },
    }  # fmt: skip
    run = Run(core.Definition(source))
    (task,) = run.only(OpenTask)
    (timer,) = run.only(StartTimer)
    assert (timer.kind, timer.level, timer.due_at) == ("attached", 1, NOW + timedelta(days=5))
    run.send(MessageReceived("withdrawn", {"n": 1}))
    assert run.only(CancelToken)[0] == CancelToken(task.token, "", "ask", withdrawn=True)
    assert run.snap.result == "gone"
    assert run.snap.variables["ask"] == {"n": 1, "interrupted_by": "withdrawn", "branch": 0}
    decided = Run(core.Definition(source))
    decided.send(TaskVoted(task.token, "ask", "approve", {}, "bob", 1, 1))
    assert CancelToken(task.token, "timer") in decided.only(CancelToken)  # the 5-day event goes
    assert decided.snap.result == "ok"


def partial_join(rest: str, **steps: dict[str, Any]) -> core.Definition:
    """Three branches (a, b: services; c: an approval) of which the join waits for two."""
    return core.Definition({
        "key": "pj", "name": "PJ", "start": "split",
        "steps": {
            "split": {"type": "parallel", "branches": ["a", "b", "c"]},
            "a": {"type": "service", "handler": "x.a", "next": "meet"},
            "b": {"type": "service", "handler": "x.b", "next": "meet"},
            "c": {"type": "approval", "assignees": {"groups": ["g"]},
                  "outcomes": {"ok": "meet"}},
            "meet": {"type": "join", "wait_for": 2, "rest": rest, "next": "after"},
            "after": {"type": "service", "handler": "x.after", "next": "done"},
            "done": {"type": "end", "result": "ok"},
            **steps,
        },
    })  # fmt: skip


def test_a_partial_join_withdraws_the_rest_once_enough_arrived() -> None:
    run = Run(partial_join("cancel"))
    (task,) = run.only(OpenTask)
    runs = {r.step: r for r in run.only(RunStep)}
    run.succeed("a")
    assert run.only(RunStep) == [] and len(run.snap.state["tokens"]) == 2
    run.send(StepSucceeded(runs["b"].token, "b", 1))
    assert run.only(CancelToken) == [CancelToken(task.token, "", "c", withdrawn=True)]
    assert [r.step for r in run.only(RunStep)] == ["after"]
    assert run.snap.state["joins"] == {} and len(run.snap.state["tokens"]) == 1


def test_a_partial_join_that_lets_the_rest_finish_passes_once() -> None:
    run = Run(partial_join("finish"))
    (task,) = run.only(OpenTask)
    runs = {r.step: r for r in run.only(RunStep)}
    run.succeed("a")
    run.send(StepSucceeded(runs["b"].token, "b", 1))
    assert run.only(CancelToken) == [] and [r.step for r in run.only(RunStep)] == ["after"]
    run.send(TaskVoted(task.token, "c", "ok", {}, "bob", task=1))
    assert run.only(RunStep) == []  # ignored: `after` does not run again
    assert run.snap.state["joins"] == {} and len(run.snap.state["tokens"]) == 1


def test_a_compensating_branch_left_behind_by_a_partial_join_finishes_its_undo() -> None:
    run = Run(partial_join(
        "cancel",
        a={"type": "service", "handler": "x.a", "next": "undo"},
        undo={"type": "compensate", "next": "meet"},
        b={"type": "service", "handler": "x.b", "compensate": "x.unb", "next": "meet"},
    ))  # fmt: skip
    (task,) = run.only(OpenTask)
    runs = {r.step: r for r in run.only(RunStep)}
    run.succeed("b")  # arrives first, with something to undo
    run.send(StepSucceeded(runs["a"].token, "a", 1))  # a's branch starts undoing b
    undo = run.run_of("b")
    assert undo.compensation and run.snap.status == "compensating"
    run.send(TaskVoted(task.token, "c", "ok", {}, "bob", task=1))  # the second arrival
    # The compensating branch is not cancelled (its undo must finish) ...
    assert CancelToken(undo.token, "", "undo", withdrawn=True) not in run.only(CancelToken)
    assert [r.step for r in run.only(RunStep)] == ["after"]
    run.send(StepSucceeded(undo.token, "b", undo.execution, {}, True))
    # ... and nothing follows it.
    assert run.only(RunStep) == [] and run.snap.status == "running"
    assert [t["step"] for t in run.snap.state["tokens"].values()] == ["after"]


def test_a_branch_that_ends_on_its_own_lets_its_join_go_on() -> None:
    run = Run(partial_join("cancel", b={"type": "end", "terminate": False},
                           meet={"type": "join", "next": "after"}))  # fmt: skip
    (task,) = run.only(OpenTask)
    assert run.snap.state["joins"]["2"]["expected"] == 2  # b ended at once
    run.succeed("a")
    assert run.only(RunStep) == []  # the join still waits for the approval
    run.send(TaskVoted(task.token, "c", "ok", {}, "bob", task=1))
    assert [r.step for r in run.only(RunStep)] == ["after"] and run.snap.state["joins"] == {}
