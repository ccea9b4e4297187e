"""Multiple instances of an automated step (`for_each` on service, http and
subprocess steps): WCP12 without synchronization, WCP13 design-time and
WCP14 run-time knowledge, WCP15 entries added while it runs, WCP26 cancel
and WCP27 complete an MI activity, WCP34-36 static, cancelling and dynamic
partial joins over the entries."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask, ProcessInstance, StepRun
from tests.orchestration.engine import handlers as test_handlers
from tests.orchestration.patterns.conftest import calls, notes, refused

pytestmark = pytest.mark.django_db


def seen() -> list[tuple[str, object]]:
    return list(test_handlers.SEEN)


def test_wcp13_design_time_entries_run_in_parallel_each_with_its_item(process) -> None:
    process.publish("""
key: fixed
name: Fixed
start: each
steps:
  each:
    type: service
    handler: test.a
    for_each: {items: "[1, 2, 3]", as: item, mode: parallel}
    outputs: [doubled]
    next: after
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("fixed")
    assert instance.status == "completed"
    assert sorted(seen()) == [("a", 1), ("a", 2), ("a", 3)] and calls()[-1] == "c"
    # Outputs come back as lists in entry order, whatever order the entries finished in.
    assert instance.variables["doubled"] == [2, 4, 6]
    assert instance.variables["each"]["completed"] == 3
    assert [e["status"] for e in instance.variables["each"]["entries"]] == ["completed"] * 3
    # Each entry is a run of its own: its own idempotency key.
    keys = set(StepRun.objects.filter(instance=instance, step="each")
               .values_list("idempotency_key", flat=True))  # fmt: skip
    assert len(keys) == 3
    assert "item" not in instance.variables  # the binding is the entry's, not the instance's


def test_wcp14_run_time_entries_run_one_after_another(process) -> None:
    process.publish("""
key: lines
name: Lines
variables:
  lines: {type: array, required: true}
start: each
steps:
  each:
    type: service
    handler: test.a
    for_each: {items: lines, as: item}
    outputs: [doubled]
    next: done
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["ok", "retry", "ok", "ok"]  # the second entry retries once
    instance = process.start("lines", {"lines": [5, 7, 9]})
    process.advance(minutes=5)
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert seen() == [("a", 5), ("a", 7), ("a", 7), ("a", 9)]  # in order, one at a time
    assert instance.variables["doubled"] == [10, 14, 18]


def test_no_entries_completes_the_step_at_once(process) -> None:
    process.publish("""
key: none
name: None
start: each
steps:
  each: {type: service, handler: test.a, for_each: {items: "[]", as: item}, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("none")
    assert (instance.status, calls(), instance.variables["each"]["total"]) == ("completed", [], 0)


def test_a_failed_entry_fails_the_instance_and_a_retry_runs_that_entry_only(process) -> None:
    process.publish("""
key: fragile
name: Fragile
start: each
steps:
  each:
    type: service
    handler: test.a
    for_each: {items: "[1, 2]", as: item, mode: parallel}
    next: done
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["ok", "error:BROKEN"]
    instance = process.start("fragile")
    assert instance.status == "failed" and instance.error["code"] == "BROKEN"
    from orchestration import services

    services.instance_retry(instance_id=instance.pk, actor=None)
    process.run()
    instance.refresh_from_db()
    assert instance.status == "completed" and len(seen()) == 3


def test_an_entrys_business_error_routes_the_whole_step(process) -> None:
    process.publish("""
key: routed
name: Routed
start: each
steps:
  each:
    type: service
    handler: test.a
    for_each: {items: "[1, 2, 3]", as: item}
    on_error: {OUT_OF_STOCK: short}
    next: done
  short: {type: end, result: short}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["ok", "error:OUT_OF_STOCK"]
    instance = process.start("routed")
    assert (instance.status, instance.result) == ("completed", "short")
    each = instance.variables["each"]
    assert each["error"]["code"] == "OUT_OF_STOCK"
    assert [e["status"] for e in each["entries"]] == ["completed", "failed", "not_started"]


def test_entries_are_compensated_each_with_its_own_item(process) -> None:
    process.publish("""
key: undo
name: Undo
start: each
steps:
  each:
    type: service
    handler: test.a
    compensate: test.undo_a
    for_each: {items: "[1, 2]", as: item, mode: parallel}
    next: fail
  fail: {type: service, handler: test.b, next: done}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.b"] = ["error:NO"]
    instance = process.start("undo")
    from orchestration import services

    services.instance_cancel(instance_id=instance.pk, reason="stop", actor=None)
    process.run()
    instance.refresh_from_db()
    assert instance.status == "compensated"
    assert sorted(item for name, item in seen() if name == "undo_a") == [1, 2]


CHILD = """
key: line-review
name: Line review
variables:
  line: {type: string, required: true}
start: review
steps:
  review:
    type: approval
    title: "Review {{ line }}"
    assignees: {groups: [reviewers]}
    outcomes: {ok: done}
  done: {type: end, result: reviewed}
"""

INVOICE = """
key: invoice
name: Invoice
variables:
  lines: {type: array, required: true}
start: each
steps:
  each:
    type: subprocess
    definition: line-review
    input: {line: line}
    result: reviews
    for_each: {items: lines, as: line, mode: parallel%(extra)s}
    events:
      - {message: stop, next: stopped}
      - {message: enough, next: after}
    next: after
  after: {type: service, handler: test.c, next: done}
  stopped: {type: end, result: stopped}
  done: {type: end, result: ok}
"""


def invoice(extra: str = "") -> str:
    return INVOICE % {"extra": extra}


def decide(process, instance, line: str) -> None:
    task = HumanTask.objects.get(instance__parent=instance, title=f"Review {line}")
    process.decide(task, "ok", as_="ria")


def children(instance) -> dict[str, str]:
    return {c.variables["line"]: c.status for c in ProcessInstance.objects.filter(parent=instance)}


def test_wcp14_one_review_per_invoice_line_as_a_sub_process(process) -> None:
    process.publish(CHILD)
    process.publish(invoice())
    instance = process.start("invoice", {"lines": ["desk", "lamp"]})
    assert children(instance) == {"desk": "waiting", "lamp": "waiting"}
    decide(process, instance, "lamp")
    decide(process, instance, "desk")
    instance.refresh_from_db()
    assert instance.status == "completed" and calls() == ["c"]
    assert [r["result"] for r in instance.variables["reviews"]] == ["reviewed", "reviewed"]


def test_wcp15_a_message_adds_an_entry_while_the_step_runs(process) -> None:
    process.publish(CHILD)
    process.publish(invoice(", add_on: line_added"))
    instance = process.start("invoice", {"lines": ["desk"]})
    process.message(instance, "line_added", {"item": "chair"})
    assert children(instance) == {"desk": "waiting", "chair": "waiting"}
    decide(process, instance, "desk")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # chair is not reviewed yet
    decide(process, instance, "chair")
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert [e["item"] for e in instance.variables["each"]["entries"]] == ["desk", "chair"]
    assert len(notes(instance, "step.entry_added")) == 1


def test_wcp34_static_partial_join_lets_the_rest_finish_and_ignores_them(process) -> None:
    process.publish(CHILD)
    process.publish(
        invoice(', complete_when: "completed >= 2", rest: finish').replace(
            "after: {type: service, handler: test.c, next: done}",
            "after: {type: service, handler: test.c, next: final}\n"
            "  final: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: done}}",
        )
    )
    instance = process.start("invoice", {"lines": ["desk", "lamp", "rug"]})
    decide(process, instance, "rug")
    decide(process, instance, "desk")
    instance.refresh_from_db()
    assert instance.status == "waiting" and calls() == ["c"]
    statuses = [e["status"] for e in instance.variables["each"]["entries"]]
    assert statuses == ["completed", "running", "completed"]
    assert children(instance)["lamp"] == "waiting"  # left to finish on its own
    decide(process, instance, "lamp")  # finishes, and is ignored
    instance.refresh_from_db()
    assert calls() == ["c"] and len(notes(instance, "step.entry_ignored")) == 1
    assert instance.variables["reviews"][1] is None  # what was recorded when it completed
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "completed" and "binds" not in instance.state


def test_wcp35_cancelling_partial_join_withdraws_the_entries_still_running(process) -> None:
    process.publish(CHILD)
    process.publish(invoice(', complete_when: "completed >= 2"'))
    instance = process.start("invoice", {"lines": ["desk", "lamp", "rug"]})
    decide(process, instance, "lamp")
    assert calls() == []
    decide(process, instance, "desk")
    instance.refresh_from_db()
    assert instance.status == "completed" and calls() == ["c"]
    assert children(instance) == {"desk": "completed", "lamp": "completed", "rug": "cancelled"}
    assert instance.variables["reviews"][2] is None


def test_wcp36_dynamic_partial_join_over_entries_added_while_it_runs(process) -> None:
    process.publish(CHILD)
    process.publish(invoice(', add_on: line_added, complete_when: "completed >= 3"'))
    instance = process.start("invoice", {"lines": ["desk", "lamp"]})
    decide(process, instance, "desk")
    decide(process, instance, "lamp")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # two of three: it waits for more entries
    process.message(instance, "line_added", {"item": "rug"})
    decide(process, instance, "rug")
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.variables["each"]["completed"] == 3


def test_wcp26_cancel_mi_activity_withdraws_every_entry(process) -> None:
    process.publish(CHILD)
    process.publish(invoice())
    instance = process.start("invoice", {"lines": ["desk", "lamp"]})
    decide(process, instance, "desk")
    instance = process.message(instance, "stop")
    assert (instance.status, instance.result) == ("completed", "stopped")
    assert children(instance) == {"desk": "completed", "lamp": "cancelled"}
    assert instance.variables["each"]["interrupted_by"] == "stop"


def test_wcp27_complete_mi_activity_keeps_what_finished_and_goes_on(process) -> None:
    process.publish(CHILD)
    process.publish(invoice())
    instance = process.start("invoice", {"lines": ["desk", "lamp", "rug"]})
    decide(process, instance, "lamp")
    instance = process.message(instance, "enough")
    assert (instance.status, calls()) == ("completed", ["c"])
    each = instance.variables["each"]
    assert [e["status"] for e in each["entries"]] == ["withdrawn", "completed", "withdrawn"]
    assert (each["completed"], each["interrupted_by"]) == (1, "enough")


def test_wcp12_sub_processes_started_without_waiting_for_them(process) -> None:
    process.publish(CHILD)
    process.publish("""
key: fire
name: Fire and forget
variables:
  lines: {type: array, required: true}
start: each
steps:
  each:
    type: subprocess
    definition: line-review
    input: {line: line}
    wait: false
    for_each: {items: lines, as: line}
    next: after
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("fire", {"lines": ["desk", "lamp"]})
    # The parent went on at once; the children run on their own.
    assert (instance.status, calls()) == ("completed", ["c"])
    assert children(instance) == {"desk": "waiting", "lamp": "waiting"}
    decide(process, instance, "desk")
    child = ProcessInstance.objects.get(parent=instance, variables__line="desk")
    assert child.status == "completed"
    instance.refresh_from_db()
    assert instance.status == "completed"  # nothing reported back


def test_for_each_on_automated_steps_is_validated(process) -> None:
    process.publish(CHILD)
    base = invoice(", rest: finish")
    assert "steps.each.for_each.rest: applies with complete_when" in refused(base)
    bad = invoice(', complete_when: "completed >= lines_total"')
    assert any(m.startswith("steps.each.for_each.complete_when: unknown variable 'lines_total'")
               for m in refused(bad))  # fmt: skip
    unawaited = invoice(', complete_when: "completed >= 1"').replace(
        "result: reviews", "wait: false"
    )
    messages = refused(unawaited)
    assert (
        "steps.each.events: does not apply: the step does not wait for its sub-processes "
        "(wait: false)" in messages
    )
    assert any(m.startswith("steps.each.for_each.complete_when: does not apply") for m in messages)


def test_migration_refuses_to_move_entries_to_a_step_without_them(process) -> None:
    from orchestration import services
    from orchestration.exceptions import MigrationRefused

    process.publish(CHILD)
    process.publish(invoice())
    instance = process.start("invoice", {"lines": ["desk"]})
    single = invoice().replace("    for_each: {items: lines, as: line, mode: parallel}\n", "")
    process.publish(single.replace("input: {line: line}", 'input: {line: "lines[0]"}'))
    with pytest.raises(MigrationRefused) as refused_move:
        services.instance_migrate(key="invoice", source=1, target=2, mapping={}, actor=None)
    assert refused_move.value.problems == {
        instance.pk: "step 'each' runs for_each entries as 'line'; 'each' as None"
    }


SIGNERS = """
key: signers
name: Signers
variables:
  signers: {type: array, required: true}
start: sign
steps:
  sign:
    type: approval
    title: "Sign: {{ signer }}"
    assignees: {groups: [reviewers]}
    for_each: {items: signers, as: signer, mode: parallel%(extra)s}
    quorum: {required: all}
    outcomes: {approve: done, reject: refused}
  done: {type: end, result: signed}
  refused: {type: end, result: refused}
"""


def signer_task(instance, name: str):
    from orchestration.models import HumanTask

    return HumanTask.objects.get(instance=instance, title=f"Sign: {name}", status="open")


def test_an_approval_chain_completes_on_its_condition_beside_its_quorum(process) -> None:
    # The quorum wants all; the condition is satisfied by two approvals.
    extra = ", complete_when: \"counts['approve'] >= 2\", outcome: approve"
    process.publish(SIGNERS % {"extra": extra})
    instance = process.start("signers", {"signers": ["ann", "bob", "cy"]})
    process.decide(signer_task(instance, "ann"), "approve", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "waiting"
    process.decide(signer_task(instance, "cy"), "approve", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "signed")
    assert [e["entry"] for e in instance.variables["sign"]["entries"]] == ["ann", "cy"]


def test_an_approval_chain_takes_entries_added_while_it_runs(process) -> None:
    process.publish(SIGNERS % {"extra": ", add_on: signer_added"})
    instance = process.start("signers", {"signers": ["ann"]})
    process.message(instance, "signer_added", {"item": "dee"})
    process.decide(signer_task(instance, "ann"), "approve", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # dee still has to sign (quorum: all)
    process.decide(signer_task(instance, "dee"), "approve", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "signed")


def test_an_approval_chain_condition_names_its_outcome() -> None:
    missing = SIGNERS % {"extra": ', complete_when: "completed >= 2"'}
    assert (
        "steps.sign.for_each.outcome: is required with complete_when: the outcome it decides"
        in refused(missing)
    )
    wrong = SIGNERS % {"extra": ', complete_when: "completed >= 2", outcome: maybe'}
    assert "steps.sign.for_each.outcome: unknown outcome 'maybe'" in refused(wrong)
