"""The policy module: every "may this user do X to Y" question is answered here.

Views, admin, API, email links and commands ask these predicates; none of them
checks a permission by hand. Each rule is written once, as a function that
returns why the user may not (a sentence naming the rule) or None; `can_*` is
that refusal read as a yes/no, and `require()` turns it into PermissionDenied
carrying the sentence. Task visibility is also a query expression
(`tasks_visible_q`, `tasks_decidable_q`) for selectors, tested to agree with the
per-object rules row by row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from accounts import access

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from orchestration.models import HumanTask, ProcessVersion

    AnyUser = AbstractBaseUser | AnonymousUser


def require(actor: AnyUser | None, refusal: str | None) -> None:
    """Raise PermissionDenied(refusal) when there is one. `actor` None is the system
    itself (management commands, the demo seed), which the policy does not restrict."""
    if actor is not None and refusal is not None:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(refusal)


def _active(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


_DECIDED_EARLIER = re.compile(r"decided (\S+) earlier in this instance")


def _why(reason: str) -> str:
    """An exclusion's reason, stored in English when the task opened
    (engine/task_writes.py), in the reader's language."""
    if reason == "started this instance":
        return _("started this instance")
    earlier = _DECIDED_EARLIER.fullmatch(reason)
    if earlier:
        return _("decided %(step)s earlier in this instance") % {"step": earlier[1]}
    return reason


def _name(user: AnyUser | None) -> str:
    return (user.get_username() if user is not None else "") or _("an anonymous user")


def _lacks(user: AnyUser | None, perm: str, role: str) -> str | None:
    if not _active(user):
        return _("%(name)s is not signed in or not active") % {"name": _name(user)}
    if user.has_perm(perm):  # type: ignore[union-attr]
        return None
    return _("%(name)s lacks the %(role)s role") % {"name": _name(user), "role": role}


# ---- definitions ----------------------------------------------------------------------
def can_view_definitions(user: AnyUser | None) -> bool:
    return (
        _lacks(user, "orchestration.view_processversion", "process-admin, operator or auditor")
        is None
    )


def can_read_definition(user: AnyUser | None, published: ProcessVersion | None) -> bool:
    """A definition, given its published version (None: none is): every one
    for process admins, operators and auditors; for anyone else, those whose
    published version they may start."""
    if can_view_definitions(user):
        return True
    return published is not None and can_start(user, published.spec)


def edit_refusal(user: AnyUser | None, version: ProcessVersion | None = None) -> str | None:
    """Create drafts, or change one; a version that is not a draft is never editable."""
    if version is not None and not version.is_draft:
        return _("%(version)s is %(status)s: only drafts can be changed") % {
            "version": version, "status": version.status}  # fmt: skip
    perm = "orchestration.change_processversion" if version else "orchestration.add_processversion"
    return _lacks(user, perm, "process-admin")


def can_edit_draft(user: AnyUser | None, version: ProcessVersion | None = None) -> bool:
    return edit_refusal(user, version) is None


def publish_refusal(user: AnyUser | None) -> str | None:
    """Publish, deprecate and retire versions."""
    return _lacks(user, "orchestration.publish_processversion", "process-admin")


def can_publish(user: AnyUser | None) -> bool:
    return publish_refusal(user) is None


# ---- instances ------------------------------------------------------------------------
def report_refusal(user: AnyUser | None) -> str | None:
    """The SLA report (every definition's throughput, durations and where
    instances wait): process admins, operators and auditors."""
    return _lacks(user, "orchestration.view_processversion", "process-admin, operator or auditor")


def can_read_reports(user: AnyUser | None) -> bool:
    return report_refusal(user) is None


def can_view_instances(user: AnyUser | None) -> bool:
    """See every instance with its step records and tasks (operators, auditors, admins)."""
    return _lacks(user, "orchestration.view_processinstance", "operator or auditor") is None


def can_see_instance(user: AnyUser | None, instance: Any) -> bool:
    """Whoever sees every instance, and the person who started it. Same rule as
    instances_visible_q()."""
    if not _active(user):
        return False
    return can_view_instances(user) or instance.started_by_id == user.pk  # type: ignore[union-attr]


def instances_visible_q(user: AnyUser | None) -> Q:
    """ProcessInstance rows `user` may see, as a filter (can_see_instance as a query)."""
    if not _active(user):
        return Q(pk__in=[])
    assert user is not None
    return Q() if can_view_instances(user) else Q(started_by_id=user.pk)


def absence_refusal(user: AnyUser | None, owner: Any) -> str | None:
    """Out-of-office windows: each person their own; superusers anyone's."""
    if not _active(user):
        return _("%(name)s is not signed in or not active") % {"name": _name(user)}
    if owner.pk == user.pk or user.is_superuser:  # type: ignore[union-attr]
        return None
    return _("%(name)s may only record their own absences") % {"name": _name(user)}


def can_read_audit(user: AnyUser | None) -> bool:
    """The whole audit log (auditors; superusers)."""
    return _lacks(user, "orchestration.view_processevent", "auditor") is None


def can_use_admin(user: AnyUser | None) -> bool:
    """The Django admin shows something to this user: staff with a role that
    has admin pages (process admin, operator, auditor) or a superuser."""
    if not _active(user) or not user.is_staff:  # type: ignore[union-attr]
        return False
    return bool(user.is_superuser or can_view_definitions(user))  # type: ignore[union-attr]


def start_refusal(user: AnyUser | None, spec: Mapping[str, Any]) -> str | None:
    """A definition's `starters` (users, groups) decide; without them, the
    requester role (start_processinstance) does."""
    starters = spec.get("starters") or {}
    if not starters:
        return _lacks(user, "orchestration.start_processinstance", "requester")
    if not _active(user):
        return _("%(name)s is not signed in or not active") % {"name": _name(user)}
    assert user is not None
    if user.get_username() in (starters.get("users") or []):
        return None
    wanted = set(starters.get("groups") or [])
    if wanted & group_names_of(user):
        return None
    return _("%(name)s is not among the starters of %(key)s") % {
        "name": _name(user), "key": spec.get("key") or _("this process")}  # fmt: skip


def can_start(user: AnyUser | None, spec: Mapping[str, Any]) -> bool:
    return start_refusal(user, spec) is None


def may_start_something(user: AnyUser | None, starters: Any) -> bool:
    """Whether `user` may start some published definition: the requester role,
    or being named in one's `starters` (an iterable of those mappings, read
    only when the role does not settle it)."""
    if not _active(user):
        return False
    if user.has_perm("orchestration.start_processinstance"):  # type: ignore[union-attr]
        return True
    return any(
        start_refusal(user, {"starters": named}) is None
        for named in starters
        if isinstance(named, Mapping) and named
    )


def reads_only(user: AnyUser | None) -> bool:
    """An auditor who neither operates nor starts: no inbox, the audit log first."""
    return (
        can_read_audit(user)
        and not can_operate(user)
        and not user.has_perm("orchestration.start_processinstance")  # type: ignore[union-attr]
    )


def operate_refusal(user: AnyUser | None) -> str | None:
    """Cancel, retry, message and migrate instances."""
    return _lacks(user, "orchestration.operate_processinstance", "operator")


def can_operate(user: AnyUser | None) -> bool:
    return operate_refusal(user) is None


def hold_refusal(user: AnyUser | None) -> str | None:
    """Place and lift legal holds (operators and auditors)."""
    return _lacks(user, "orchestration.hold_processinstance", "operator or auditor")


def erase_refusal(user: AnyUser | None) -> str | None:
    """Erase a data subject's personal data now (operators)."""
    return _lacks(user, "orchestration.erase_processinstance", "operator")


def can_see_sensitive(user: AnyUser | None) -> bool:
    """Sensitive values open instead of masked; no role has it by default
    (granted per person or group in the admin; every view is audited)."""
    perm = "orchestration.view_sensitive_processinstance"
    return _active(user) and user.has_perm(perm)  # type: ignore[union-attr]


def starter_actions(user: AnyUser | None, instance: Any) -> list[Mapping[str, Any]]:
    """The definition's `actions` this user may take on the instance as the
    person who started it (operators may send any message anyway)."""
    if not _active(user) or instance.started_by_id != user.pk:  # type: ignore[union-attr]
        return []
    actions: list[Mapping[str, Any]] = instance.version.spec.get("actions") or []
    return [a for a in actions if a.get("by") == "starter"]


def message_refusal(user: AnyUser | None, instance: Any, name: str) -> str | None:
    """Send a message to an instance: operators any; the person who started
    it those its definition lists under `actions` with `by: starter`."""
    if operate_refusal(user) is None:
        return None
    if any(a["message"] == name for a in starter_actions(user, instance)):
        return None
    return _("%(name)s may not send %(message)r to instance %(id)s: operators may, and its"
             " starter what its process lists as actions") % {
        "name": _name(user), "message": name, "id": instance.pk}  # fmt: skip


# ---- tasks ----------------------------------------------------------------------------
def decide_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """An assignee (directly or through a group) of an open task, unless excluded:
    `exclude: [starter]` keeps the person who started the instance out (four-eyes),
    even when named as an assignee. Same rule as tasks_decidable_q()."""
    if not _active(user):
        return _("%(name)s is not signed in or not active") % {"name": _name(user)}
    if task.status != "open":
        return _("task %(id)s is %(status)s") % {"id": task.pk, "status": task.status}
    why = {e.user_id: e.reason for e in task.exclusions.all()}.get(user.pk)  # type: ignore[union-attr,arg-type]
    if why is not None:
        return _("%(name)s %(why)s and is excluded from deciding it (four-eyes)") % {
            "name": _name(user), "why": _why(why)}  # fmt: skip
    if _is_delegate(user, task):
        return None  # acting for the owner
    if not _candidate(user, task):  # type: ignore[arg-type]
        return _("%(name)s is not an assignee of task %(id)s") % {
            "name": _name(user), "id": task.pk}  # fmt: skip
    if task.claimed_by_id is not None and task.claimed_by_id != user.pk:  # type: ignore[union-attr]
        return _("task %(id)s is claimed by %(name)s") % {
            "id": task.pk, "name": _name(task.claimed_by)}  # fmt: skip
    return None


def _is_delegate(user: AnyUser | None, task: HumanTask) -> bool:
    """The person a task's owner handed it to (decides acting for the owner)."""
    return user is not None and task.delegate_id is not None and task.delegate_id == user.pk


def _candidate(user: AnyUser, task: HumanTask) -> bool:
    """Named as a candidate, or a member of a candidate group."""
    if user.pk in task.candidate_users:
        return True
    return bool(set(task.candidate_groups) & group_ids_of(user))


def claim_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """Take an offered task, so that it leaves the other candidates' queues: any
    candidate who may decide it, while nobody else holds it."""
    refusal = decide_refusal(user, task)
    if refusal is not None:
        return refusal
    if _is_delegate(user, task):
        return _("%(name)s decides task %(id)s as a delegate and cannot claim it") % {
            "name": _name(user), "id": task.pk}  # fmt: skip
    return None


def owner_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """Hand a task on (delegate, reassign, release): whoever holds it, or any
    candidate while nobody does; operators may always."""
    if can_operate(user):
        return None
    refusal = decide_refusal(user, task)
    if refusal is not None:
        return refusal
    if _is_delegate(user, task):
        return _("%(name)s decides task %(id)s for its owner and cannot hand it on") % {
            "name": _name(user), "id": task.pk}  # fmt: skip
    return None


def recipient_refusal(
    user: AnyUser, task: HumanTask, *, mover: AnyUser | None = None, reassign: bool = False
) -> str | None:
    """Someone a task may move to: an active user whom the task does not
    exclude (work never moves to the excluded). Reassigning moves it only to
    its candidates (named, or in an assignee group), and so does anyone who
    moves work only as an operator (not its holder or a candidate): operating
    the flow is not deciding in it, so an operator cannot hand a task to
    themself or to anyone else outside it (task_force_decide is the operator's
    own, recorded way through). A holder or candidate may delegate to anyone
    not excluded, to decide for them."""
    if not user.is_active:
        return _("%(name)s is not active") % {"name": _name(user)}
    why = {e.user_id: e.reason for e in task.exclusions.all()}.get(user.pk)
    if why is not None:
        return _("%(name)s %(why)s and is excluded from deciding it") % {
            "name": _name(user), "why": _why(why)}  # fmt: skip
    operator_only = mover is not None and decide_refusal(mover, task) is not None
    if (reassign or operator_only) and not (_candidate(user, task) or _offered(user, task)):
        words = _("%(name)s is not a candidate for task %(id)s (named or in a group its step"
                  " offers it to, or escalates it to)")  # fmt: skip
        return words % {"name": _name(user), "id": task.pk}
    return None


def _offered(user: AnyUser, task: HumanTask) -> bool:
    """Named, or in a group named, by the task's step: its assignees or an
    escalation level's `to` (who the process itself gives it to, though a
    reassignment may have narrowed its candidates since)."""
    from orchestration.engine.versions import definition_of

    step = definition_of(task.instance.version).step(task.step)
    offers = [step.get("assignees") or {}] + [
        level.get("to") or {} for level in step.get("escalation") or []
    ]
    users = {name for offer in offers for name in offer.get("users") or []}
    groups = {name for offer in offers for name in offer.get("groups") or []}
    return user.get_username() in users or bool(groups & group_names_of(user))


def force_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """Push a task through with an outcome nobody chose: operators only, on an
    open task (recorded as forced, with the operator's reason)."""
    refusal = operate_refusal(user)
    if refusal is not None:
        return refusal
    if task.status != "open":
        return _("task %(id)s is %(status)s") % {"id": task.pk, "status": task.status}
    return None


def input_refusal(task: HumanTask, to: AnyUser) -> str | None:
    """Whom an operator may ask for input on a task (force_refusal says who
    may ask): they join its candidates, may comment, and decide only while
    nobody holds it; so they must be active and not excluded from it."""
    if not to.is_active:
        return _("%(name)s is not active") % {"name": _name(to)}
    why = {e.user_id: e.reason for e in task.exclusions.all()}.get(to.pk)
    if why is not None:
        return _("%(name)s %(why)s and is excluded from it") % {"name": _name(to), "why": _why(why)}
    return None


def hand_back_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """Return a task to its owner undecided: only its delegate."""
    if _active(user) and _is_delegate(user, task):
        return None
    return _("%(name)s is not the delegate of task %(id)s") % {"name": _name(user), "id": task.pk}


def comment_refusal(user: AnyUser | None, task: HumanTask) -> str | None:
    """Write in a task's thread: the people in the task (its starter, candidates
    and delegate) and operators. Those who only read everything (auditors) may
    not: they change nothing."""
    if not can_see_task(user, task):
        return _("%(name)s may not see task %(id)s") % {"name": _name(user), "id": task.pk}
    assert user is not None
    if (
        can_operate(user)
        or task.instance.started_by_id == user.pk
        or _is_delegate(user, task)
        or _candidate(user, task)
    ):
        return None
    return _("%(name)s may read task %(id)s but not write in its thread") % {
        "name": _name(user), "id": task.pk}  # fmt: skip


def attach_refusal(user: AnyUser | None, instance: Any, task: HumanTask | None) -> str | None:
    """Add a file: on a task, whoever may write in its thread; to the instance
    itself, the person who started it and operators."""
    if task is not None:
        return comment_refusal(user, task)
    if not can_see_instance(user, instance):
        return _("%(name)s may not see instance %(id)s") % {"name": _name(user), "id": instance.pk}
    assert user is not None
    if can_operate(user) or instance.started_by_id == user.pk:
        return None
    return _("%(name)s did not start instance %(id)s") % {"name": _name(user), "id": instance.pk}


def can_read_attachment(user: AnyUser | None, attachment: Any) -> bool:
    """Whoever sees the task it was added on, or (added to the instance)
    whoever sees the instance or any of its tasks."""
    if attachment.task is not None:
        return can_see_task(user, attachment.task)
    if can_see_instance(user, attachment.instance):
        return True
    from orchestration.models import HumanTask

    return HumanTask.objects.filter(
        tasks_visible_q(user), instance_id=attachment.instance_id
    ).exists()


def can_decide(user: AnyUser | None, task: HumanTask) -> bool:
    return decide_refusal(user, task) is None


def eligible_count(task: HumanTask) -> int:
    """How many distinct active people may decide `task` (its quorum counts them):
    its users and the members of its groups, less those excluded."""
    from django.contrib.auth import get_user_model

    users, groups = task.candidate_users, task.candidate_groups
    excluded = [e.user_id for e in task.exclusions.all()]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(pk__in=users) | Q(groups__in=groups))
        .exclude(pk__in=excluded)
        .distinct()
        .count()
    )


def can_see_task(user: AnyUser | None, task: HumanTask) -> bool:
    """Its assignees (directly or through a group, whatever its status), the person
    who started its instance, and whoever sees every instance (operators,
    auditors). Same rule as tasks_visible_q()."""
    if not _active(user):
        return False
    if can_view_instances(user) or task.instance.started_by_id == user.pk:  # type: ignore[union-attr]
        return True
    if _is_delegate(user, task):
        return True
    return _candidate(user, task)  # type: ignore[arg-type]


def _assigned_q(user: AnyUser) -> Q:
    """The task names the user, or one of their groups, as a candidate (on
    PostgreSQL through GIN indexes: one over open tasks, one over all)."""
    return Q(candidate_users__overlaps=[user.pk]) | Q(
        candidate_groups__overlaps=sorted(group_ids_of(user))
    )


def tasks_decidable_q(user: AnyUser | None) -> Q:
    """HumanTask rows `user` may decide, as a filter (decide_refusal as a query)."""
    if not _active(user):
        return Q(pk__in=[])
    assert user is not None
    from orchestration.models import TaskExclusion

    excluded = TaskExclusion.objects.filter(task=OuterRef("pk"), user_id=user.pk)  # type: ignore[misc]
    free = Q(claimed_by__isnull=True) | Q(claimed_by_id=user.pk)
    return (
        Q(status="open")
        & ~Q(Exists(excluded))
        & (Q(delegate_id=user.pk) | (_assigned_q(user) & free))
    )


def tasks_visible_q(user: AnyUser | None) -> Q:
    """HumanTask rows `user` may see, as a filter (can_see_task as a query)."""
    if not _active(user):
        return Q(pk__in=[])
    assert user is not None
    if can_view_instances(user):
        return Q()
    return Q(instance__started_by_id=user.pk) | Q(delegate_id=user.pk) | _assigned_q(user)


def group_names_of(user: AnyUser) -> set[str]:
    """The user's group names (accounts/access.py keeps them a few seconds)."""
    return set(access.groups_of(user).names) if _active(user) else set()


def group_ids_of(user: AnyUser) -> set[int]:
    """The user's group ids (accounts/access.py keeps them a few seconds)."""
    return set(access.groups_of(user).ids) if _active(user) else set()


def external_work_refusal(user: AnyUser | None) -> str | None:
    """Who fetches, completes and fails external tasks: operators (a worker's
    key acts as a service account in the operators' role, narrowed by the
    key's scopes and definitions)."""
    return _lacks(user, "orchestration.operate_processinstance", "operator")


def webhook_refusal(user: AnyUser | None) -> str | None:
    """Who subscribes systems to events: superusers, or whoever holds
    orchestration.add_webhooksubscription (no role grants it by default)."""
    return _lacks(user, "orchestration.add_webhooksubscription", "webhook administrator")


def api_key_refusal(user: AnyUser | None) -> str | None:
    """Who makes and revokes API keys: superusers, or whoever holds the
    api.add_apikey permission (no role grants it by default)."""
    return _lacks(user, "api.add_apikey", "API key administrator")


def api_scope_refusal(key: Any, scope: str, definition: str | None = None) -> str | None:
    """Why an API key may not do `scope` (on `definition`, when one is named).
    `key` None is a person's browser session: only their roles apply. A key
    does at most what its account may, and only within its scopes."""
    if key is None:
        return None
    if scope not in key.scopes:
        return _("the API key %(key)r is not scoped to %(scope)r") % {
            "key": key.name,
            "scope": scope,
        }
    if definition is not None and key.definitions and definition not in key.definitions:
        return _("the API key %(key)r is not scoped to the definition %(definition)r") % {
            "key": key.name, "definition": definition}  # fmt: skip
    return None


def api_definitions_q(key: Any, field: str = "key") -> Q:
    """The definitions an API key may touch, as a filter on `field` (a
    definition key lookup); everything for a session or an unscoped key."""
    if key is None or not key.definitions:
        return Q()
    return Q(**{f"{field}__in": list(key.definitions)})
