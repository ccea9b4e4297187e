"""Decision links as rules (orchestration.side_effects.decision_links), without a database:
signed, expiring on the engine's clock, and only for outcomes without input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core import signing

from orchestration import clock
from orchestration.side_effects import decision_links as email_links
from orchestration.side_effects.decision_links import Link, LinkRefused

NOW = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
TASK = SimpleNamespace(pk=41)


def test_a_link_reads_back_what_it_names() -> None:
    token = email_links.make(TASK, 7, "approve", now=NOW)
    assert email_links.read(token, now=NOW) == Link(41, 7, "approve")


def test_a_link_lasts_the_set_hours_to_the_second(settings) -> None:
    token = email_links.make(TASK, 7, "approve", now=NOW)
    assert email_links.hours() == 72
    assert email_links.read(token, now=NOW + timedelta(hours=72)) == Link(41, 7, "approve")
    with pytest.raises(LinkRefused) as refused:
        email_links.read(token, now=NOW + timedelta(hours=72, seconds=1))
    assert str(refused.value) == ("This link has expired. Open your task list to decide the task.")
    settings.ORCHESTRATION_EMAIL_LINK_HOURS = 2
    short = email_links.make(TASK, 7, "approve", now=NOW)
    with pytest.raises(LinkRefused, match="expired"):
        email_links.read(short, now=NOW + timedelta(hours=2, seconds=1))


def test_without_a_time_the_engines_clock_counts() -> None:
    with clock.use(lambda: NOW):
        token = email_links.make(TASK, 7, "reject")
    with clock.use(lambda: NOW + timedelta(hours=71)):
        assert email_links.read(token).outcome == "reject"
    with clock.use(lambda: NOW + timedelta(hours=73)), pytest.raises(LinkRefused):
        email_links.read(token)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("aa" if not t.endswith("aa") else "bb"),
        lambda t: "x" + t,
        lambda t: signing.dumps({"t": 41, "u": 8, "o": "approve", "e": 9e12}, compress=True),
        lambda t: signing.dumps({"t": 41, "u": 8, "o": "approve", "e": 9e12}, salt="other"),
    ],
)
def test_an_altered_or_foreign_link_is_refused(tamper) -> None:
    token = email_links.make(TASK, 7, "approve", now=NOW)
    with pytest.raises(LinkRefused) as refused:
        email_links.read(tamper(token), now=NOW)
    assert str(refused.value) == "This link is not valid: it may have been altered."


def task_with(form, outcomes=("approve", "reject", "refer")):
    return SimpleNamespace(form=form, outcomes={o: "next" for o in outcomes})


def test_outcomes_that_need_no_input_get_links_in_their_order() -> None:
    assert email_links.outcomes_without_input(task_with([])) == ["approve", "reject", "refer"]
    optional = [{"name": "note", "type": "text"}]
    assert email_links.outcomes_without_input(task_with(optional)) == [
        "approve", "reject", "refer",
    ]  # fmt: skip


def test_an_outcome_that_requires_a_field_gets_no_link() -> None:
    form = [{"name": "why", "type": "text", "required_for": ["reject", "refer"]}]
    assert email_links.outcomes_without_input(task_with(form)) == ["approve"]


def test_a_required_field_means_no_outcome_gets_a_link() -> None:
    form = [{"name": "note", "type": "text"}, {"name": "ref", "type": "text", "required": True}]
    assert email_links.outcomes_without_input(task_with(form)) == []
    not_required = [{"name": "ref", "type": "text", "required": False}]
    assert email_links.outcomes_without_input(task_with(not_required, ["ok"])) == ["ok"]
