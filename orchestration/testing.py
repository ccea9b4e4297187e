"""A test helper for people who write definitions.

    from orchestration.testing import ProcessTest

    def test_the_vacation_story(db):
        with ProcessTest() as run:
            run.publish(open("purchase-approval.yaml").read())
            instance = run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
            run.advance(days=2)
            assert run.assignees(run.open_tasks(instance)[0]) == ["group:directors"]

It installs a controllable clock as the engine's time source (starting now,
moved only by `advance`), runs the engine in the test's process until nothing
is due (no sleeps, no worker processes), and reads back what a person would
see: open tasks, their assignees, the escalations that fired. Everything goes
through the same services the product uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from django.contrib.auth import get_user_model

from orchestration import candidates, clock, selectors, services
from orchestration.engine.worker import Worker
from orchestration.jobs import SIDE
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, ProcessVersion


class ProcessTest:
    def __init__(self, *, start: datetime | None = None) -> None:
        self.now = start or clock.now()
        self._clock = clock.use(lambda: self.now)
        self.worker = Worker("process-test", clock=lambda: self.now, side=SIDE)

    def __enter__(self) -> ProcessTest:
        self._clock.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.worker.close()
        self._clock.__exit__(kind, exc, tb)

    # ---- driving ---------------------------------------------------------------------------
    def publish(self, source: str) -> ProcessVersion:
        """Save and publish a definition (as the system)."""
        draft = services.version_save_draft(source=source, actor=None).version
        return services.version_publish(version=draft, actor=None)

    def start(
        self, key: str, variables: dict[str, Any] | None = None, *, as_: str | None = None,
        business_key: str = "",
    ) -> ProcessInstance:  # fmt: skip
        """Start an instance (as the named user, or the system), then run the engine."""
        instance = services.instance_start(key=key, variables=variables, actor=self._user(as_),
                                           business_key=business_key)  # fmt: skip
        self.run()
        instance.refresh_from_db()
        return instance

    def decide(
        self, task: HumanTask, outcome: str, *, as_: str, data: dict[str, Any] | None = None,
        comment: str = "",
    ) -> HumanTask:  # fmt: skip
        """Decide a task as the named user (the policy applies), then run the engine."""
        decided = services.task_complete(
            task_id=task.pk, outcome=outcome, data=data or {}, actor=self._user(as_),
            comment=comment,
        )  # fmt: skip
        self.run()
        return decided

    def message(
        self, instance: ProcessInstance, name: str, payload: dict[str, Any] | None = None
    ) -> ProcessInstance:
        """Send a named message to an instance (as the system), then run the engine."""
        services.instance_send_message(
            instance_id=instance.pk, name=name, payload=payload, actor=None, now=self.now
        )
        self.run()
        instance.refresh_from_db()
        return instance

    def set_variables(self, instance: ProcessInstance, **values: Any) -> ProcessInstance:
        """Change some variables (as an operator would, as the system): what
        makes a condition event or a `first_of` condition branch fire."""
        services.instance_set_variables(
            instance_id=instance.pk, values=values, reason="test", actor=None, now=self.now
        )
        self.run()
        instance.refresh_from_db()
        return instance

    def advance(self, **delta: float) -> datetime:
        """Move the clock (e.g. `days=2`) and run whatever came due."""
        self.now += timedelta(**delta)
        self.run()
        return self.now

    def run(self) -> None:
        """Run the engine until nothing is due at the current time."""
        self.worker.run_until_idle()

    # ---- reading ---------------------------------------------------------------------------
    def open_tasks(self, instance: ProcessInstance) -> list[HumanTask]:
        return list(HumanTask.objects.filter(instance=instance, status="open").order_by("pk"))

    def assignees(self, task: HumanTask) -> list[str]:
        """Usernames, and groups as `group:<name>`."""
        task.refresh_from_db(fields=["candidate_users", "candidate_groups"])
        users, groups = candidates.names_of([task])[task.pk]
        return sorted([*users, *(f"group:{name}" for name in groups)])

    def escalations(self, instance: ProcessInstance) -> list[tuple[int, str]]:
        """(level, action) of every escalation that fired, in order."""
        fired = []
        for event in ProcessEvent.objects.filter(instance=instance).order_by("pk"):
            for note in event.payload.get("notes", []):
                if note.get("kind") == "task.escalated":
                    fired.append((note["level"], note["action"]))
        return fired

    def stranded(self) -> list[tuple[int, str]]:
        """(task id, why) of every open task nobody may decide: a test of a
        process asserts this stays empty."""
        return [(task.pk, why) for task, why in selectors.stranded_tasks()]

    @staticmethod
    def _user(username: str | None) -> Any:
        if username is None:
            return None
        model = get_user_model()
        return model.objects.get(**{model.USERNAME_FIELD: username})
