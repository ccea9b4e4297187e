"""Several processes editing and publishing one definition at once (PostgreSQL)."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connections

from orchestration.models import ProcessEvent, ProcessVersion
from orchestration.states import VersionStatus
from tests.orchestration.factories import PURCHASE_SOURCE

WORKERS = 4
ROUNDS = 6


def _worker(
    worker: int, start: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    from orchestration import services
    from orchestration.exceptions import TransitionNotAllowed

    errors, published = [], 0
    start.wait()
    for n in range(ROUNDS):
        source = PURCHASE_SOURCE.replace("due: 2d", f"due: {worker * 100 + n + 1}h")
        try:
            version = services.version_save_draft(source=source, actor=None).version
            if n % 2:
                services.version_publish(version=version, actor=None)
                published += 1
        except TransitionNotAllowed:
            pass  # another worker published this draft first: expected
        except Exception as exc:  # anything else is a bug to report
            errors.append(repr(exc))
    connections.close_all()
    out.put((errors, published))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_drafts_and_publishes_keep_numbering_and_the_one_draft_rule() -> None:
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(w, start, out)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert [errors for errors, _ in results] == [[]] * WORKERS
    numbers = sorted(ProcessVersion.objects.values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))  # no gaps, no duplicates
    assert ProcessVersion.objects.filter(status=VersionStatus.DRAFT).count() <= 1
    # Publishes really happened (a publish fails only because another worker
    # published the same draft first, so at least one succeeds), each one is
    # audited once, and each made one more published version.
    succeeded = sum(n for _, n in results)
    assert succeeded >= 1
    assert ProcessEvent.objects.filter(kind="version.published").count() == succeeded
    assert ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED).count() == succeeded
