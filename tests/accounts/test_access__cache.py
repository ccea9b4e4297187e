"""A user's permissions and groups are read once per few seconds per process,
and a change of roles in this process is seen at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import permissions
from accounts.models import User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PERM = "orchestration.start_processinstance"


def fresh(user: User) -> User:
    """The user as the next request loads it."""
    return User.objects.get(pk=user.pk)


def queries_to_check(user: User) -> int:
    with CaptureQueriesContext(connection) as queries:
        user.has_perm(PERM)
        permissions.group_ids_of(user)
    return len(queries)


def test_a_second_request_reads_no_permission_or_group(roles) -> None:
    alice = make_user("alice", "requester")
    assert queries_to_check(fresh(alice)) == 3  # permissions (2) and groups, once
    again = fresh(alice)
    assert queries_to_check(again) == 0
    assert again.has_perm(PERM) and permissions.group_ids_of(again) == {
        Group.objects.get(name="requester").pk
    }


def test_groups_and_permissions_are_read_apart(roles) -> None:
    """Deciding a task needs the groups only: one query, not three."""
    alice, bob = make_user("alice", "requester"), make_user("bob", "requester")
    request = fresh(alice)
    with CaptureQueriesContext(connection) as queries:
        permissions.group_ids_of(request)
    assert len(queries) == 1 and "auth_permission" not in queries[0]["sql"]
    request = fresh(bob)
    with CaptureQueriesContext(connection) as queries:
        assert request.has_perm(PERM)
    assert len(queries) == 2  # Django's two permission queries; no groups
    request = fresh(bob)
    with CaptureQueriesContext(connection) as queries:
        permissions.group_ids_of(request)
        assert request.has_perm(PERM)
    assert len(queries) == 1  # the permissions are kept; the groups were not read yet


def test_a_role_taken_away_in_this_process_counts_at_once(roles) -> None:
    alice = make_user("alice", "requester")
    assert fresh(alice).has_perm(PERM)
    alice.groups.remove(Group.objects.get(name="requester"))
    assert not fresh(alice).has_perm(PERM) and permissions.group_ids_of(fresh(alice)) == set()


def test_another_process_change_counts_once_the_seconds_are_over(roles, clock, settings) -> None:
    settings.ORCHESTRATION_ACCESS_CACHE_SECONDS = 10
    alice = make_user("alice", "requester")
    assert fresh(alice).has_perm(PERM)
    # As another process would: straight in the table, no signal here.
    group = Group.objects.get(name="requester")
    User.groups.through.objects.filter(user=alice, group=group).delete()
    clock.advance(seconds=9)
    assert fresh(alice).has_perm(PERM)  # still kept
    clock.advance(seconds=2)
    assert not fresh(alice).has_perm(PERM)


def test_zero_seconds_reads_every_time(roles, settings) -> None:
    settings.ORCHESTRATION_ACCESS_CACHE_SECONDS = 0
    alice = make_user("alice", "requester")
    assert queries_to_check(fresh(alice)) == 3
    assert queries_to_check(fresh(alice)) == 3


def test_a_user_made_inactive_is_refused_at_once_whatever_was_kept(roles) -> None:
    alice = make_user("alice", "requester")
    assert fresh(alice).has_perm(PERM)
    User.objects.filter(pk=alice.pk).update(is_active=False)  # no signal
    assert not fresh(alice).has_perm(PERM)
    assert permissions.start_refusal(fresh(alice), {}) is not None


def test_superuser_flag_is_never_kept(roles) -> None:
    boss = make_user("boss")
    assert not fresh(boss).has_perm(PERM)
    User.objects.filter(pk=boss.pk).update(is_superuser=True)  # no signal
    assert fresh(boss).has_perm(PERM)
    User.objects.filter(pk=boss.pk).update(is_superuser=False)
    assert not fresh(boss).has_perm(PERM)
