"""One bad row fails alone, in every sweep.

The engine's own batches (runs, timers, leases) isolate instances through
engine/incidents.py. Every other loop over rows (mail, the webhooks' fan-out,
audit sealing, out-of-office routing, housekeeping) hands its rows to
`each()`: a row whose handling raises is rolled back alone (its own
savepoint), logged, and recorded as a SweepFailure (which sweep, which row,
attempts, the error, when to try again: BACKOFF, then given up after
MAX_ATTEMPTS); the sweep goes on with the next row. A sweep reads its rows
through `skip_held()`, so a row backing off never takes the place of the rows
behind it. Operators see the failures in the admin (Sweep failures).

Errors of the database itself (incidents.NOT_ISOLATED) are not a row's
fault: they end the sweep, and the loop's supervisor starts it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import transaction
from django.db.models import Q, QuerySet

from orchestration import limits
from orchestration.engine.incidents import NOT_ISOLATED
from orchestration.models import SweepFailure

log = logging.getLogger(__name__)

Row = TypeVar("Row")
Result = TypeVar("Result")
# Seconds before the 1st, 2nd, ... retry of a row that raised; given up after that.
BACKOFF = (60, 300, 1800, 7200)
MAX_ATTEMPTS = len(BACKOFF) + 1


def each(
    sweep: str,
    rows: Iterable[Row],
    handle: Callable[[Row], Result],
    *,
    row_id: Callable[[Row], int],
    now: datetime,
    given_up: Callable[[Row], object] | None = None,
    passes: tuple[type[BaseException], ...] = (),
    retry: bool = True,
    savepoint: bool = True,
) -> list[Result]:
    """`handle(row)` for each row; returns what the rows that did not raise
    returned. A row that raises is recorded (and `given_up(row)` runs, in a
    savepoint of its own, on its last attempt: at once with `retry=False`, for
    a failure that would only repeat). Exceptions in `passes` are the sweep's,
    not a row's: they end it. `savepoint=False` for a `handle` that writes
    nothing (each savepoint is two more statements)."""
    results: list[Result] = []
    retrying: set[int] | None = None
    theirs: tuple[type[BaseException], ...] = (*NOT_ISOLATED, *passes)
    for row in rows:
        try:
            if savepoint:
                with transaction.atomic():
                    results.append(handle(row))
            else:
                results.append(handle(row))
        except theirs:
            raise
        except Exception as exc:
            log.exception("%s: row %s failed alone", sweep, row_id(row))
            if _record(sweep, row_id(row), exc, now, retry=retry) and given_up is not None:
                _quietly(sweep, row_id(row), lambda row=row: given_up(row))  # type: ignore[misc]
            continue
        if retrying is None:
            retrying = set(
                SweepFailure.objects.filter(sweep=sweep, given_up=False).values_list(
                    "row_id", flat=True
                )
            )
        if row_id(row) in retrying:  # handled after all: forget the failure
            SweepFailure.objects.filter(sweep=sweep, row_id=row_id(row), given_up=False).delete()
    return results


def guarded(sweep: Callable[[], int | None]) -> int:
    """Run one whole sweep, returning what it handled. Each sweep isolates its
    rows; should one still raise, it is logged and whoever runs it goes on (the
    engine's due transitions first of all), and the next round runs it again."""
    try:
        return sweep() or 0
    except NOT_ISOLATED:
        raise
    except Exception:
        log.exception("the side sweep %s failed; the engine goes on", sweep.__name__)
        return 0


def skip_held(rows: QuerySet[Row], sweep: str, now: datetime, field: str = "pk") -> QuerySet[Row]:  # type: ignore[type-var]
    """`rows` without those of `sweep` that are backing off or given up."""
    held = SweepFailure.objects.filter(sweep=sweep).filter(Q(given_up=True) | Q(retry_at__gt=now))
    return rows.exclude(**{f"{field}__in": held.values("row_id")})


def give_up(sweep: str, row: int, exc: Exception, now: datetime) -> None:
    """Note a failure of `row` that trying again would only repeat (its sweep
    goes on with the row as it can)."""
    _record(sweep, row, exc, now, retry=False)


def _record(sweep: str, row: int, exc: Exception, now: datetime, *, retry: bool = True) -> bool:
    """Count one failed attempt of `row`; True when it was the last."""
    error = limits.storable_text(f"{type(exc).__name__}: {exc}", 2000)
    with transaction.atomic():
        failure, _ = SweepFailure.objects.select_for_update().get_or_create(
            sweep=sweep, row_id=row,
            defaults={"error": error, "first_failed_at": now, "last_failed_at": now},
        )  # fmt: skip
        failure.attempts += 1
        failure.error, failure.last_failed_at = error, now
        failure.given_up = not retry or failure.attempts >= MAX_ATTEMPTS
        failure.retry_at = (
            None if failure.given_up else now + timedelta(seconds=BACKOFF[failure.attempts - 1])
        )
        failure.save()
    return failure.given_up


def _quietly(sweep: str, row: int, action: Callable[[], object]) -> None:
    try:
        with transaction.atomic():
            action()
    except NOT_ISOLATED:
        raise
    except Exception:
        log.exception("%s: giving up row %s failed too", sweep, row)
