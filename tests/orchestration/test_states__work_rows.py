"""Runs, tasks and timers change status only along their tables."""

from __future__ import annotations

import pytest

from orchestration import states
from orchestration.exceptions import TransitionNotAllowed
from orchestration.models import HumanTask, StepRun, Timer
from orchestration.states import RunStatus, TaskStatus, TimerStatus


@pytest.mark.parametrize(
    ("row", "table", "choices"),
    [
        (StepRun, states.RUN_TRANSITIONS, RunStatus),
        (HumanTask, states.TASK_TRANSITIONS, TaskStatus),
        (Timer, states.TIMER_TRANSITIONS, TimerStatus),
    ],
)
def test_every_pair_is_allowed_or_refused_by_the_table(row, table, choices) -> None:
    assert set(table) == set(choices)  # every status has a row in its table
    for source in choices:
        for target in choices:
            obj = row(status=source)
            if target in table[source]:
                states.move(obj, target)
                assert obj.status == target
            else:
                with pytest.raises(TransitionNotAllowed):
                    states.move(obj, target)
                assert obj.status == source  # nothing changed


def test_what_ended_stays_ended() -> None:
    task = HumanTask(status=TaskStatus.CANCELLED)
    with pytest.raises(TransitionNotAllowed, match="cannot go from cancelled to completed"):
        states.move(task, TaskStatus.COMPLETED)
    timer = Timer(status=TimerStatus.FIRED)
    with pytest.raises(TransitionNotAllowed, match="cannot go from fired to fired"):
        states.move(timer, TimerStatus.FIRED)
