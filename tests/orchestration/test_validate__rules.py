"""Every validation rule, with its exact message. Pure: no database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orchestration.definitions.errors import DefinitionInvalid
from orchestration.definitions.parse import parse_source
from orchestration.definitions.validate import Context, validate, validate_source
from tests.orchestration.factories import PURCHASE_SOURCE, dump, purchase_spec

CTX = Context(
    handlers={"demo.check_budget", "demo.place_order", "demo.cancel_order"},
    resolvers={"starter_manager"},
    definitions={"purchase-approval", "identity-check"},
)


def messages(spec: dict[str, Any], ctx: Context = CTX) -> list[str]:
    return [str(e) for e in validate(spec, ctx)]


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    spec = purchase_spec()
    change(spec)
    return spec


def test_the_documented_example_loads_unchanged() -> None:
    spec = validate_source(PURCHASE_SOURCE, CTX)
    assert spec["key"] == "purchase-approval"
    assert list(spec["steps"]) == [
        "check_budget",
        "route",
        "manager_approval",
        "place_order",
        "auto_approved",
        "approved",
        "rejected",
    ]


def test_json_source_with_the_same_structure_is_accepted() -> None:
    import json

    assert validate_source(json.dumps(purchase_spec()), CTX) == purchase_spec()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "key: x\nsteps: [a\n",
            "definition: YAML does not parse: expected ',' or ']', but got '<stream end>' "
            "(line 3, column 1)",
        ),
        (
            "key: a\nkey: b\n",
            "definition: YAML does not parse: duplicate key 'key' (line 2, column 1)",
        ),
        ("- a\n- b\n", "definition: must be a mapping of fields, got list"),
        ("", "definition: must be a mapping of fields, got empty"),
        (
            '{"key": ',
            "definition: YAML does not parse: expected the node content, "
            "but found '<stream end>' (line 1, column 9)",
        ),
    ],
)
def test_text_that_does_not_parse(source: str, expected: str) -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        validate_source(source, CTX)
    assert raised.value.messages == [expected]


SHAPE_CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("unknown top-level field", lambda s: s.update(owner="me"), ["owner: unknown field"]),
    (
        "unknown step field",
        lambda s: s["steps"]["check_budget"].update(handlr="x"),
        ["steps.check_budget.handlr: unknown field"],
    ),
    ("missing required field", lambda s: s.pop("start"), ["start: is required"]),
    (
        "missing step field",
        lambda s: s["steps"]["route"].pop("default"),
        ["steps.route.default: is required"],
    ),
    (
        "wrong type",
        lambda s: s["steps"]["check_budget"]["retry"].update(max_attempts="five"),
        ["steps.check_budget.retry.max_attempts: expected integer, got string"],
    ),
    (
        "wrong type of a step",
        lambda s: s["steps"].update(route="decision"),
        ["steps.route: expected object, got string"],
    ),
    (
        "unknown step type",
        lambda s: s["steps"]["route"].update(type="gateway"),
        [
            "steps.route.type: must be one of service, http, decision, approval, parallel, "
            "join, wait, subprocess, notify, region, compensate, end (got 'gateway')"
        ],
    ),
    (
        "duration does not parse",
        lambda s: s["steps"]["check_budget"].update(timeout="30 seconds"),
        [
            "steps.check_budget.timeout: invalid duration '30 seconds' "
            "(use 30s, 5m, 2h, 3d, 1w or ISO 8601 such as PT30S)"
        ],
    ),
    (
        "ISO duration with months",
        lambda s: s["steps"]["manager_approval"].update(due="P1M"),
        [
            "steps.manager_approval.due: invalid duration 'P1M' "
            "(use 30s, 5m, 2h, 3d, 1w or ISO 8601 such as PT30S)"
        ],
    ),
    (
        "escalation duration",
        lambda s: s["steps"]["manager_approval"]["escalation"][0].update(after="tomorrow"),
        [
            "steps.manager_approval.escalation[0].after: invalid duration 'tomorrow' "
            "(use 30s, 5m, 2h, 3d, 1w or ISO 8601 such as PT30S)"
        ],
    ),
    (
        "key not a slug",
        lambda s: s.update(key="Purchase Approval"),
        ["key: 'Purchase Approval' is not a slug (lowercase letters, digits and single hyphens)"],
    ),
    (
        "step id not an identifier",
        lambda s: s["steps"].update({"2nd": {"type": "end"}}),
        [
            "steps.2nd: '2nd' is not a valid step id "
            "(letters, digits and _, not starting with a digit, at most 100 characters)"
        ],
    ),
    (
        "step id longer than its column",
        lambda s: s["steps"].update({"s" * 101: {"type": "end"}}),
        [
            f"steps.{'s' * 101}: '{'s' * 101}' is not a valid step id "
            "(letters, digits and _, not starting with a digit, at most 100 characters)"
        ],
    ),
    (
        "reassign without to",
        lambda s: s["steps"]["manager_approval"]["escalation"][1].pop("to"),
        ["steps.manager_approval.escalation[1].to: is required"],
    ),
    (
        "unknown escalation action",
        lambda s: s["steps"]["manager_approval"]["escalation"][0].update(action="nag"),
        [
            "steps.manager_approval.escalation[0].action: must be one of remind, reassign, "
            "add, notify, decide (got 'nag')"
        ],
    ),
    (
        "bad quorum",
        lambda s: s["steps"]["manager_approval"].update(quorum="most"),
        [
            "steps.manager_approval.quorum: 'most' is not a quorum (any, all, a count, "
            "a percentage, or {required, outcome, veto})"
        ],
    ),
    (
        "no outcomes",
        lambda s: s["steps"]["manager_approval"].update(outcomes={}),
        ["steps.manager_approval.outcomes: needs at least 1 entries"],
    ),
    (
        "negative minimum attempts",
        lambda s: s["steps"]["check_budget"]["retry"].update(max_attempts=0),
        ["steps.check_budget.retry.max_attempts: must be >= 1"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES]
)
def test_shape_errors(change: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    assert messages(mutated(change)) == expected


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        target = spec
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


GRAPH_CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    (
        "branch names no step",
        _set(["steps", "route", "branches", 0, "next"], "managr_approval"),
        [
            "steps.manager_approval: unreachable from start",
            "steps.place_order: unreachable from start",
            "steps.rejected: unreachable from start",
            "steps.approved: unreachable from start",
            "steps.route.branches[0].next: unknown step 'managr_approval'",
        ],
    ),
    (
        "next names no step",
        _set(["steps", "place_order", "next"], "aproved"),
        # no "no path reaches an end" noise while a reference is unknown
        [
            "steps.approved: unreachable from start",
            "steps.place_order.next: unknown step 'aproved'",
        ],
    ),
    (
        "outcome names no step",
        _set(["steps", "manager_approval", "outcomes", "reject"], "nope"),
        [
            "steps.manager_approval.outcomes.reject: unknown step 'nope'",
            "steps.rejected: unreachable from start",
        ],
    ),
    ("start names no step", _set(["start"], "begin"), ["start: unknown step 'begin'"]),
    (
        "on_error names no step",
        _set(["steps", "check_budget", "on_error"], {"over_budget": "refused"}),
        ["steps.check_budget.on_error.over_budget: unknown step 'refused'"],
    ),
    (
        "unreachable step",
        _set(["steps", "orphan"], {"type": "end"}),
        ["steps.orphan: unreachable from start"],
    ),
    (
        "loop that never reaches an end",
        lambda s: s["steps"].update(
            route={
                "type": "decision",
                "branches": [{"when": "amount > 1", "next": "loop_a"}],
                "default": "auto_approved",
            },
            loop_a={"type": "service", "handler": "demo.check_budget", "next": "loop_b"},
            loop_b={"type": "service", "handler": "demo.check_budget", "next": "loop_a"},
        ),
        [
            "steps.approved: unreachable from start",
            "steps.loop_a: no path from here reaches an end step",
            "steps.loop_b: no path from here reaches an end step",
            "steps.manager_approval: unreachable from start",
            "steps.place_order: unreachable from start",
            "steps.rejected: unreachable from start",
        ],
    ),
    (
        "handler not registered",
        _set(["steps", "check_budget", "handler"], "demo.check_budgett"),
        ["steps.check_budget.handler: handler 'demo.check_budgett' is not registered"],
    ),
    (
        "compensation handler not registered",
        _set(["steps", "place_order", "compensate"], "demo.uncancel"),
        ["steps.place_order.compensate: handler 'demo.uncancel' is not registered"],
    ),
    (
        "resolver not registered",
        _set(["steps", "manager_approval", "assignees"], {"resolver": "team_lead"}),
        ["steps.manager_approval.assignees.resolver: resolver 'team_lead' is not registered"],
    ),
    (
        "expression does not parse",
        _set(["steps", "route", "branches", 0, "when"], "amount >"),
        ["steps.route.branches[0].when: expression does not parse: invalid syntax at column 9"],
    ),
    (
        "expression is a statement",
        _set(["steps", "route", "branches", 0, "when"], "amount = 1"),
        [
            "steps.route.branches[0].when: expression does not parse: "
            "must be a single expression, not a statement"
        ],
    ),
    (
        "expression calls a forbidden function",
        _set(["steps", "route", "branches", 0, "when"], "__import__('os')"),
        [
            "steps.route.branches[0].when: expression does not parse: "
            "calling '__import__' is not allowed"
        ],
    ),
    (
        "expression uses a lambda",
        _set(["steps", "route", "branches", 0, "when"], "(lambda: 1)()"),
        ["steps.route.branches[0].when: expression does not parse: Lambda is not allowed"],
    ),
    (
        "expression names an unknown variable",
        _set(["steps", "route", "branches", 0, "when"], "amout > 1000"),
        ["steps.route.branches[0].when: unknown variable 'amout'"],
    ),
    (
        "template names an unknown variable",
        _set(["steps", "manager_approval", "title"], "Approve {{ itme }}"),
        ["steps.manager_approval.title: unknown variable 'itme'"],
    ),
    (
        "required_for names no outcome",
        _set(["steps", "manager_approval", "form", 0, "required_for"], ["rejct"]),
        ["steps.manager_approval.form[0].required_for[0]: unknown outcome 'rejct'"],
    ),
    (
        "decide names no outcome",
        _set(
            ["steps", "manager_approval", "escalation", 1],
            {"after": "3d", "action": "decide", "outcome": "aprove"},
        ),
        ["steps.manager_approval.escalation[1].outcome: unknown outcome 'aprove'"],
    ),
    (
        "quorum veto names no outcome",
        _set(["steps", "manager_approval", "quorum"], {"required": "all", "veto": ["deny"]}),
        ["steps.manager_approval.quorum.veto[0]: unknown outcome 'deny'"],
    ),
    (
        "step id clashes with a variable",
        lambda s: (
            s["steps"].update(item={"type": "end"}),
            s["steps"]["route"].update(default="item"),
        ),
        [
            "steps.auto_approved: unreachable from start",
            "steps.item: step id 'item' is also a variable name",
        ],
    ),
    (
        "subprocess names an unknown definition",
        _set(["steps", "route", "default"], "child"),
        [],
    ),  # placeholder replaced below
]
GRAPH_CASES[-1] = (
    "subprocess names an unknown definition",
    lambda s: (
        s["steps"].update(
            child={"type": "subprocess", "definition": "identity-chek", "next": "auto_approved"}
        ),
        s["steps"]["route"].update(default="child"),
    ),
    ["steps.child.definition: unknown definition 'identity-chek'"],
)


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in GRAPH_CASES], ids=[c[0] for c in GRAPH_CASES]
)
def test_graph_errors(change: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    assert messages(mutated(change)) == sorted(expected)


def parallel_spec(**overrides: Any) -> dict[str, Any]:
    steps: dict[str, Any] = {
        "split": {"type": "parallel", "branches": ["a", "b"]},
        "a": {"type": "service", "handler": "demo.check_budget", "next": "meet"},
        "b": {"type": "service", "handler": "demo.place_order", "next": "meet"},
        "meet": {"type": "join", "next": "done"},
        "done": {"type": "end"},
    }
    steps.update(overrides)
    return {"key": "par", "name": "Par", "start": "split", "steps": steps}


def test_parallel_branches_meeting_at_a_join_are_valid() -> None:
    assert messages(parallel_spec()) == []


def test_join_without_a_matching_parallel() -> None:
    spec = {
        "key": "j",
        "name": "J",
        "start": "a",
        "steps": {
            "a": {"type": "service", "handler": "demo.check_budget", "next": "meet"},
            "meet": {"type": "join", "next": "done"},
            "done": {"type": "end"},
        },
    }
    assert messages(spec) == ["steps.meet: join has no matching parallel"]


def test_parallel_branches_that_never_meet() -> None:
    spec = parallel_spec(b={"type": "end"})
    assert messages(spec) == [
        "steps.split.branches[1]: never reaches the join 'meet': end it with terminate: false"
        " to let it finish on its own"
    ]
    assert messages(parallel_spec(b={"type": "end", "terminate": False})) == []


def test_nested_parallels_pair_with_the_nearest_join() -> None:
    spec = parallel_spec(
        a={"type": "parallel", "branches": ["a1", "a2"]},
        a1={"type": "service", "handler": "demo.check_budget", "next": "inner"},
        a2={"type": "service", "handler": "demo.check_budget", "next": "inner"},
        inner={"type": "join", "next": "meet"},
    )
    assert messages(spec) == []
    from orchestration.definitions.validate import parallel_joins

    assert parallel_joins(spec["steps"]) == {"split": "meet", "a": "inner"}


def wait_spec(**wait: Any) -> dict[str, Any]:
    return {
        "key": "w",
        "name": "W",
        "start": "hold",
        "steps": {
            "hold": {"type": "wait", "next": "done", **wait},
            "done": {"type": "end"},
            "late": {"type": "end"},
        },
    }


@pytest.mark.parametrize(
    ("wait", "expected"),
    [
        ({"timer": "1h"}, ["steps.late: unreachable from start"]),
        (
            {"until": "deadline"},
            ["steps.hold.until: unknown variable 'deadline'", "steps.late: unreachable from start"],
        ),
        ({"message": "paid", "timeout": "3d", "on_timeout": "late"}, []),
        (
            {},
            [
                "steps.hold: needs exactly one of timer, until, message, first_of",
                "steps.late: unreachable from start",
            ],
        ),
        (
            {"timer": "1h", "message": "paid"},
            [
                "steps.hold: needs exactly one of timer, until, message, first_of",
                "steps.late: unreachable from start",
            ],
        ),
        (
            {"timer": "1h", "timeout": "2h", "on_timeout": "late"},
            ["steps.hold.timeout: only a message wait has a timeout"],
        ),
        (
            {"message": "paid", "timeout": "3d"},
            [
                "steps.hold.on_timeout: is required with timeout",
                "steps.late: unreachable from start",
            ],
        ),
        (
            {"message": "paid", "on_timeout": "late"},
            ["steps.hold.timeout: is required with on_timeout"],
        ),
    ],
)
def test_wait_rules(wait: dict[str, Any], expected: list[str]) -> None:
    assert messages(wait_spec(**wait)) == sorted(expected)


def http_spec(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": "h",
        "name": "H",
        "start": "call",
        "variables": {"customer": {"type": "string"}},
        "steps": {
            "call": {
                "type": "http",
                "request": {"method": "POST", "url": url, **extra},
                "result": "reply",
                "next": "done",
            },
            "done": {"type": "end"},
        },
    }


def test_http_host_outside_the_allowlist_is_refused_at_publish() -> None:
    spec = http_spec("https://evil.example.org/steal")
    assert messages(spec) == []  # drafts do not check the allowlist
    publish = Context(handlers=CTX.handlers, allowed_hosts=["api.example.com"])
    assert messages(spec, publish) == [
        "steps.call.request.url: host 'evil.example.org:443' is not in "
        "ORCHESTRATION_HTTP_ALLOWED_HOSTS"
    ]
    assert messages(http_spec("https://api.example.com/v1/{{ customer }}"), publish) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://{{ customer }}.example.com/x",
        "ftp://api.example.com/",
        "/relative",
        "https://api.example.com{{ customer }}",
    ],
)
def test_http_url_must_name_its_host_literally(url: str) -> None:
    assert messages(http_spec(url)) == [
        "steps.call.request.url: must be an absolute http(s) URL whose host is written out"
    ]


def test_http_body_placeholders_are_checked() -> None:
    spec = http_spec("https://api.example.com/", body={"who": ["{{ custmer }}"]})
    assert messages(spec) == ["steps.call.request.body.who[0]: unknown variable 'custmer'"]


def test_names_from_outputs_results_and_step_ids_are_known() -> None:
    spec = purchase_spec()
    spec["steps"]["check_budget"]["outputs"] = ["budget_ok"]
    spec["steps"]["route"]["branches"][0]["when"] = "budget_ok and amount > 1000 and len(item) > 0"
    spec["steps"]["place_order"]["next"] = "notify"
    spec["steps"]["notify"] = {
        "type": "decision",
        "branches": [{"when": "manager_approval.comment != ''", "next": "approved"}],
        "default": "approved",
    }
    assert messages(spec) == []


def test_for_each_item_name_is_known_inside_the_step_only() -> None:
    spec = purchase_spec()
    spec["variables"]["approvers"] = {"type": "array"}
    approval = spec["steps"]["manager_approval"]
    approval["for_each"] = {"items": "approvers", "as": "approver", "mode": "sequential"}
    approval["assignees"] = {"users": ["{{ approver }}"]}
    assert messages(spec) == []
    spec["steps"]["route"]["branches"][0]["when"] = "approver == 'x'"
    assert messages(spec) == ["steps.route.branches[0].when: unknown variable 'approver'"]


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (
            {"timezone": "Europe/Paris", "hours": "09:00-17:00", "days": ["mon"], "holidays": "FR"},
            [],
        ),
        ({"timezone": "Mars/Olympus"}, ["calendar.timezone: unknown time zone 'Mars/Olympus'"]),
        (
            {"timezone": "UTC", "holidays": "XX"},
            ["calendar.holidays: unknown holiday country 'XX'"],
        ),
        ({"timezone": "UTC", "hours": "17:00-09:00"}, ["calendar.hours: must end after it starts"]),
        (
            {"timezone": "UTC", "hours": "9-5"},
            ["calendar.hours: '9-5' is not a working-hours range such as 09:00-17:00"],
        ),
    ],
)
def test_calendar_rules(calendar: dict[str, Any], expected: list[str]) -> None:
    spec = purchase_spec()
    spec["calendar"] = calendar
    assert messages(spec) == expected


def test_every_error_is_listed_at_once() -> None:
    spec = mutated(_set(["steps", "check_budget", "handler"], "nope"))
    spec["steps"]["route"]["branches"][0]["when"] = "amout > 1"
    spec["steps"]["manager_approval"]["outcomes"]["reject"] = "rejectd"
    assert messages(spec) == [
        "steps.check_budget.handler: handler 'nope' is not registered",
        "steps.manager_approval.outcomes.reject: unknown step 'rejectd'",
        "steps.rejected: unreachable from start",
        "steps.route.branches[0].when: unknown variable 'amout'",
    ]


def test_validate_source_raises_with_all_errors() -> None:
    source = PURCHASE_SOURCE.replace("next: manager_approval", "next: managr_approval")
    with pytest.raises(DefinitionInvalid) as raised:
        validate_source(source, CTX)
    assert "steps.route.branches[0].next: unknown step 'managr_approval'" in raised.value.messages
    assert dump(parse_source(PURCHASE_SOURCE))  # the source itself still parses


def test_yaml_1_1_booleans_and_dates_stay_strings() -> None:
    spec = parse_source(
        "key: k\nname: N\nstart: yes\nsteps:\n  yes: {type: end, result: on}\n"
        "  no: {type: wait, until: 2026-12-01, next: yes}\nflag: true\n"
    )
    assert spec["start"] == "yes" and spec["steps"]["yes"]["result"] == "on"
    assert spec["steps"]["no"]["until"] == "2026-12-01" and spec["flag"] is True


@pytest.mark.parametrize(
    ("sla", "expected"),
    [
        ({"process": "5d", "steps": {"manager_approval": "1d", "check_budget": "PT30M"}}, []),
        ({"steps": {"manager_aproval": "1d"}},
         ["sla.steps.manager_aproval: unknown step 'manager_aproval'"]),
        # Passed through in one transition: an expectation nobody could miss.
        ({"steps": {"route": "1h"}},
         ["sla.steps.route: a decision step takes no time: an expected duration there is never"
          " missed"]),
        ({"steps": {"approved": "1h"}},
         ["sla.steps.approved: a end step takes no time: an expected duration there is never"
          " missed"]),
        ({"process": "3 days"},
         ["sla.process: invalid duration '3 days' (use 30s, 5m, 2h, 3d, 1w or ISO 8601 such as"
          " PT30S)"]),
        ({"process": "600000w"}, ["sla.process: at most 3650d (ORCHESTRATION_MAX_DURATION_DAYS)"]),
        ({"steps": {"manager_approval": "99999d"}},
         ["sla.steps.manager_approval: at most 3650d (ORCHESTRATION_MAX_DURATION_DAYS)"]),
        ({}, ["sla: needs at least 1 entries"]),
        ({"proces": "1d"}, ["sla.proces: unknown field"]),
    ],
)  # fmt: skip
def test_sla_names_steps_that_take_time_and_valid_durations(sla, expected) -> None:
    assert messages(mutated(lambda spec: spec.update(sla=sla))) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"retention": "90d", "subject": "variables.amount"}, []),
        ({"retention": "forever", "subject": "business_key"}, []),
        ({"retention": "P90D"}, []),
        ({"retention": "3 months"},
         ["retention: '3 months' is neither a duration (30d, 12w, P90D) nor forever"]),
        ({"retention": "600000w"}, ["retention: at most 3650d (ORCHESTRATION_MAX_DURATION_DAYS)"]),
        ({"retention": "never"}, ["retention: 'never' is neither a duration (30d, 12w, P90D) nor"
                                  " forever"]),
        ({"retention": 30}, ["retention: 30 is neither a duration (30d, 12w, P90D) nor forever"]),
        ({"subject": "variables.amont"}, ["subject: 'amont' is not one of the declared variables"]),
        ({"subject": "requester"},
         ["subject: 'requester' is not business_key or variables.<name>"]),
    ],
)  # fmt: skip
def test_retention_is_a_duration_or_forever_and_the_subject_a_known_place(fields, expected) -> None:
    assert messages(mutated(lambda spec: spec.update(fields))) == expected
