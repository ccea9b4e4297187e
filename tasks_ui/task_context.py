"""What a task page shows around the decision: who asked, the step as the
definition names it, the decisions taken earlier in the same instance, where
each outcome leads, and the variables with the labels the definition gives.

Read in a fixed number of queries whatever the instance holds (one for the
earlier decisions with their people, one for the comments given with them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orchestration.audit.hashchain import REMOVED
from orchestration.definitions.graph import all_steps
from orchestration.definitions.validate import COMMENT_FIELD
from orchestration.models import HumanTask, ProcessInstance, TaskComment, TaskVote

# Variables longer than this (as text) are shown folded.
COLLAPSE_AT = 200

# The named priorities of docs/definitions.md, nearest first.
_PRIORITY_WORDS = (
    (88, gettext_lazy("urgent")), (63, gettext_lazy("high")),
    (38, gettext_lazy("normal")), (0, gettext_lazy("low")),
)  # fmt: skip


def priority_word(priority: int) -> str:
    """The name of the nearest named priority (low 25, normal 50, high 75, urgent 100)."""
    return str(next(word for floor, word in _PRIORITY_WORDS if priority >= floor))


def step_label(spec: Mapping[str, Any], step_id: str) -> str:
    """A step as people read it: its `name`, else its id made readable."""
    step = find_step(spec, step_id)
    name = step.get("name") if step else None
    return str(name) if name else step_id.replace("_", " ").capitalize()


def find_step(spec: Mapping[str, Any], step_id: str) -> Mapping[str, Any] | None:
    """The step of that id, at any level (regions included)."""
    return all_steps(spec).get(step_id)


def outcome_targets(spec: Mapping[str, Any], task: HumanTask) -> list[dict[str, str]]:
    """Each outcome of the task with the step it leads to, by name."""
    step = find_step(spec, task.step) or {}
    routes: Mapping[str, Any] = step.get("outcomes") or {}
    out = []
    for outcome in task.outcomes:
        target = routes.get(outcome)
        target_step = find_step(spec, target) if isinstance(target, str) else None
        if target_step is not None and target_step.get("type") == "end":
            result = target_step.get("result")
            leads = (_("ends the process (%(result)s)") % {"result": result} if result
                     else _("ends the process"))  # fmt: skip
        elif isinstance(target, str):
            leads = step_label(spec, target)
        else:
            leads = ""
        out.append({"outcome": outcome, "leads": leads})
    return out


def earlier_decisions(task: HumanTask) -> list[dict[str, Any]]:
    """Who decided what at the instance's other tasks, oldest first, with the
    comment they gave with it and whom they acted for."""
    spec = task.instance.version.spec
    votes = list(
        TaskVote.objects.filter(task__instance_id=task.instance_id)
        .exclude(task_id=task.pk)
        .select_related("task", "voter", "on_behalf_of")
        .order_by("created_at", "pk")
    )
    said = {
        (c.task_id, c.author_id, c.created_at): c.text
        for c in TaskComment.objects.filter(
            task_id__in={v.task_id for v in votes}, author_id__in={v.voter_id for v in votes}
        )
    }
    out = []
    for vote in votes:
        data = vote.data if isinstance(vote.data, dict) else {}
        comment = data.get(COMMENT_FIELD) or said.get(
            (vote.task_id, vote.voter_id, vote.created_at)
        )
        out.append({
            "step": step_label(spec, vote.task.step),
            "by": vote.voter.get_username() if vote.voter else _("system"),
            "acting_for": vote.on_behalf_of.get_username() if vote.on_behalf_of else "",
            "outcome": vote.outcome,
            "when": vote.created_at,
            "comment": comment or "",
        })  # fmt: skip
    return out


def removed(instance: ProcessInstance) -> dict[str, Any] | None:
    """What a purge or an erasure removed of the instance (when, under which
    rule), for the pages to say so instead of showing nothing."""
    marker = (instance.variables or {}).get(REMOVED)
    if not isinstance(marker, dict):
        return None
    return {"at": instance.purged_at, "rule": str(marker.get("rule", ""))}


def variables(instance: ProcessInstance, shown: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The instance's variables (`shown`: as the viewer may see them,
    disclosure.shown) in the definition's order, each with its label
    and description; the answers of earlier steps (objects under a step id)
    under that step's name; long or nested values folded."""
    spec = instance.version.spec
    declared: Mapping[str, Mapping[str, Any]] = spec.get("variables") or {}
    values: Mapping[str, Any] = {
        k: v for k, v in (shown or {}).items() if k != REMOVED
    }  # a retention purge or an erasure left its marker: removed() says it
    names = [n for n in declared if n in values] + sorted(n for n in values if n not in declared)
    out = []
    for name in names:
        decl = declared.get(name) or {}
        value = values[name]
        if name in declared:
            label = decl.get("label") or name.replace("_", " ").capitalize()
        elif find_step(spec, name) is not None:
            label = step_label(spec, name)
        else:
            label = name
        out.append({"name": name, "label": label, "description": decl.get("description", ""),
                    **_shown(value)})  # fmt: skip
    return out


def _shown(value: Any) -> dict[str, Any]:
    if (
        isinstance(value, dict)
        and value
        and all(not isinstance(v, (dict, list)) for v in value.values())
    ):
        pairs = [(k.replace("_", " ").capitalize(), _text(v)) for k, v in value.items()]
        return {"pairs": pairs, "text": "", "long": False}
    text = _text(value)
    return {"pairs": [], "text": text, "long": len(text) > COLLAPSE_AT or "\n" in text}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return number_format(value, force_grouping=True)  # in the reader's language
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def requester(instance: ProcessInstance) -> str:
    person = instance.started_by
    if person is None:
        if instance.parent_id is None:
            return _("the system")
        return _("instance %(id)s") % {"id": instance.parent_id}
    return person.get_full_name() or person.get_username()
