"""Demo users, groups and definitions for `manage.py demo`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from accounts.models import User
from accounts.roles import Role
from accounts.services import roles_sync
from orchestration import clock, jobs
from orchestration.metrics import fold
from orchestration.models import ProcessInstance
from orchestration.testing import ProcessTest

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
PASSWORD = "demo"

# username -> (full name, groups, manager)
USERS: dict[str, tuple[str, list[str], str | None]] = {
    "admin": ("Ada Admin", [Role.PROCESS_ADMIN], None),
    "alice": ("Alice Requester", [Role.REQUESTER, "requesters"], "bob"),
    "bob": ("Bob Manager", [Role.APPROVER, "managers"], "carol"),
    "carol": ("Carol Director", [Role.APPROVER, "directors", "managers"], None),
    "dave": ("Dave Director", [Role.APPROVER, "directors"], None),
    "uma": ("Uma Underwriter", [Role.APPROVER, "underwriters"], "carol"),
    # The purchase request's three reviews (two of three approve it).
    "lena": ("Lena Legal", [Role.APPROVER, "legal"], "carol"),
    "fred": ("Fred Finance", [Role.APPROVER, "finance"], "carol"),
    "sami": ("Sami Security", [Role.APPROVER, "security"], "carol"),
    "otto": ("Otto Operator", [Role.OPERATOR, "operators"], None),
    "audrey": ("Audrey Auditor", [Role.AUDITOR], None),
}


STAFF = {"admin", "otto", "audrey"}


@transaction.atomic
def seed_users() -> list[User]:
    """Create (or reset) the demo users with password "demo". Idempotent."""
    roles_sync()
    users: dict[str, User] = {}
    for username, (full_name, groups, _) in USERS.items():
        first, last = full_name.split(" ", 1)
        user, _ = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.com"
        # The admin is for the roles that have pages there; approvers and
        # requesters work in the inbox and see no Admin link.
        user.is_staff = username in STAFF
        user.is_superuser = username == "admin"
        user.set_password(PASSWORD)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=str(g))[0] for g in groups])
        users[username] = user
    for username, (_, _, manager) in USERS.items():
        users[username].manager = users.get(manager) if manager else None
        users[username].save(update_fields=["manager"])
    return list(users.values())


def seed_definitions() -> None:
    call_command("load_definitions", str(DEFINITIONS_DIR), publish=True)


HISTORY_KEY = "HIST-"  # the business keys of the seeded history


def seed_history(*, days: int = 21, seed: int = 7) -> int:
    """Run a few dozen purchase approvals over the past `days` days on a
    controllable clock, so that the Reports page has a history to show: a
    heatmap, days of throughput, some decisions later than the definition's
    `sla` and escalations that fired. Every instance ends; nobody's inbox
    changes. Runs once (none of its business keys exist yet); returns how many
    it started."""
    if ProcessInstance.objects.filter(business_key__startswith=HISTORY_KEY).exists():
        return 0
    rng = random.Random(seed)  # noqa: S311 (demo data, not a secret)
    end = clock.now()
    first = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    number = 0
    for day in range(days):
        for _ in range(rng.randint(1, 4)):
            number += 1
            start = first + timedelta(
                days=day, hours=rng.randint(8, 16), minutes=rng.randint(0, 59)
            )
            amount = rng.choice([400, 900, 1500, 2400, 3800, 5200, 8000, 12500, 24000])
            events.append((start, number, "start", {"amount": amount}))
            # Most decisions within a working day, some after the 1-day expectation,
            # a few after the 2-day escalation to the directors, one or two after
            # the 3 days the whole purchase should take.
            wait = (
                80 if number % 20 == 7 else rng.choice([1, 1.5, 2, 3, 4, 5, 6, 8, 20, 26, 30, 52])
            )
            outcome = "reject" if rng.random() < 0.2 else "approve"
            events.append((start + timedelta(hours=wait), number, outcome, {"wait": wait}))
    events = [event for event in events if event[0] < end - timedelta(hours=1)]
    started: dict[int, ProcessInstance] = {}
    items = ["desk", "laptop", "monitor", "chair", "printer", "licence", "headset", "server"]
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        with ProcessTest(start=first) as run:
            for moment, n, what, facts in sorted(events, key=lambda e: (e[0], e[1])):
                run.advance(seconds=max((moment - run.now).total_seconds(), 0))
                if what == "start":
                    started[n] = run.start(
                        "purchase-approval", {"item": rng.choice(items), "amount": facts["amount"]},
                        as_="alice", business_key=f"{HISTORY_KEY}{n:03d}",
                    )  # fmt: skip
                    continue
                instance = started.get(n)
                tasks = run.open_tasks(instance) if instance else []
                if not tasks:  # approved without a manager (1,000 or less)
                    continue
                # After the escalation the directors hold it: Carol is one of them.
                person = "carol" if facts["wait"] >= 48 else "bob"
                comment = "Over this quarter's budget." if what == "reject" else ""
                run.decide(tasks[0], what, as_=person, comment=comment)
            unfinished = [i for i in started.values() if run.open_tasks(i)]
            for instance in unfinished:  # started within the last hours: decided now
                run.decide(run.open_tasks(instance)[0], "approve", as_="bob")
            run.advance(seconds=max((end - run.now).total_seconds(), 0))
        # What the side sweeps would do: seal, count, and send the history's
        # mail nowhere (it is not news).
        for _ in range(50):
            jobs.seal_audit()
            if not (jobs.send_mail() or fold.fold_pending()):
                break
        jobs.fan_out_webhooks()
    return len(started)
