"""The demo's loan approval behaves as its definition says, end to end: the
credit bureau over real HTTP, the identity sub-process, the routing, the
underwriter's four-eyes rule, form and escalation on a New York business
calendar with a US holiday, and the directors' quorum with a veto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import holidays
import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.wsgi import get_wsgi_application

from orchestration.demo import seed
from orchestration.exceptions import InvalidInput
from orchestration.models import ProcessInstance
from orchestration.testing import ProcessTest

pytestmark = pytest.mark.django_db

DEFINITIONS = Path(seed.__file__).parent / "definitions"
# Wednesday 27 November 2030, 15:00 in New York: Thanksgiving is the next day.
START = datetime(2030, 11, 27, 20, 0, tzinfo=UTC)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bureau(settings) -> Iterator[str]:
    """The demo credit bureau, served by this project over HTTP on a free port."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"127.0.0.1:{server.server_port}"
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [address]
    yield f"http://{address}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def run(bureau) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest(start=START) as running:
        running.publish((DEFINITIONS / "identity-check.yaml").read_text())
        # The one change: the bureau's address (the demo serves it on port 8000).
        source = (DEFINITIONS / "loan-approval.yaml").read_text()
        running.publish(source.replace("http://127.0.0.1:8000", bureau))
        yield running


def apply(run: ProcessTest, applicant: str, amount: int = 20_000) -> ProcessInstance:
    return run.start(
        "loan-approval",
        {"applicant": applicant, "amount": amount, "term_months": 36},
        as_="alice",
    )


def test_a_good_score_and_a_small_amount_need_no_person(run) -> None:
    instance = apply(run, "Barbara Liskov")  # the bureau scores her 782
    assert (instance.status, instance.result) == ("completed", "approved")
    assert instance.variables["credit"]["score"] == 782
    assert instance.variables["kyc"]["result"] == "verified"
    assert instance.variables["documents"][0].startswith("loan-agreement-DOC-")
    assert run.open_tasks(instance) == []


@pytest.mark.parametrize(
    ("applicant", "why"),
    [("nobody", "the bureau does not know the applicant (404 applicant_unknown)"),
     ("Edsger Dijkstra", "a score of 334, under 500")],
)  # fmt: skip
def test_unknown_applicants_and_low_scores_are_rejected(run, applicant, why) -> None:
    instance = apply(run, applicant)
    assert (instance.status, instance.result) == ("completed", "rejected"), why


def test_the_underwriter_rule_the_calendar_escalation_and_the_directors_quorum(run) -> None:
    # Alice applies, and is also an underwriter here: four-eyes keeps her out.
    seed.User.objects.get(username="alice").groups.add(seed.Group.objects.get(name="underwriters"))
    instance = apply(run, "Alan Turing")  # scored 637: neither clearly good nor bad
    (review,) = run.open_tasks(instance)
    assert run.assignees(review) == ["group:underwriters"]
    assert (review.step, review.priority) == ("underwriter_review", 75)
    assert review.title == "Loan of 20000 over 36 months for Alan Turing"
    with pytest.raises(PermissionDenied, match="alice started this instance"):
        run.decide(review, "approve", as_="alice", data={"rate": 4.5})

    # Three working days in New York, with Thanksgiving (Thursday) off:
    # Friday, Monday and Tuesday at 15:00 EST.
    assert holidays.US()[START.date().replace(day=28)] == "Thanksgiving Day"
    assert review.due_at == datetime(2030, 12, 3, 20, 0, tzinfo=UTC)
    run.advance(days=4, hours=23)  # Monday 14:00 in New York: under two working days
    assert run.escalations(instance) == []
    mail.outbox.clear()
    run.advance(hours=1)  # Monday 15:00: two working days, the reminder
    assert run.escalations(instance) == [(0, "remind")]
    assert [m.to for m in mail.outbox if m.subject.startswith("Reminder")] == [["uma@example.com"]]
    run.advance(days=1)  # Tuesday 15:00: due, and the managers are added
    assert run.escalations(instance) == [(0, "remind"), (1, "add")]
    assert run.assignees(review) == ["group:managers", "group:underwriters"]

    # The form is checked per outcome; what is submitted lands under the step.
    with pytest.raises(InvalidInput, match=r"data\.comment: required to refer"):
        run.decide(review, "refer", as_="bob")
    run.decide(review, "refer", as_="bob", data={"comment": "large for the term"})
    instance.refresh_from_db()
    assert instance.variables["underwriter_review"]["comment"] == "large for the term"

    # Senior review: two directors must approve; the starter and bob (who
    # decided before) may not. Carol approves; Dave's approval completes it.
    (senior,) = run.open_tasks(instance)
    assert (senior.step, run.assignees(senior)) == ("senior_review", ["group:directors"])
    run.decide(senior, "approve", as_="carol")
    assert run.open_tasks(instance) == [senior]
    run.decide(senior, "approve", as_="dave")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "approved")


def test_a_director_who_decided_before_may_not_vote_and_one_reject_vetoes(run) -> None:
    instance = apply(run, "Alan Turing")
    (review,) = run.open_tasks(instance)
    run.advance(days=6)  # past the last level: the managers (Carol among them) are added
    run.decide(review, "refer", as_="carol", data={"comment": "needs a director"})
    (senior,) = run.open_tasks(instance)
    excluded = r"carol decided underwriter_review earlier .* \(four-eyes\)"
    with pytest.raises(PermissionDenied, match=excluded):
        run.decide(senior, "approve", as_="carol")
    run.decide(senior, "reject", as_="dave")  # a veto: one reject ends it
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "rejected")
