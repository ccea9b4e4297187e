"""The engine's one time source.

Everything that stamps or compares a business time (due dates, leases, timers,
audit rows, decisions) asks `now()`, or takes a `now=` argument whose default
is `now()`. It is Django's `timezone.now` unless a source is installed with
`use()`: the tests install a controllable clock there, so that rows stamped by
a service called from a command or an admin action and the worker comparing
due times agree on what "now" is, whatever the date the suite runs on.

Elapsed-time budgets (a handler's deadline, a poll interval) are not business
time: they use `time.monotonic()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

Source = Callable[[], datetime]

_source: Source = timezone.now


def now() -> datetime:
    """The current time, aware, from the installed source."""
    return _source()


@contextmanager
def use(source: Source) -> Iterator[Source]:
    """Install `source` as the time source for the duration of the block."""
    global _source
    previous, _source = _source, source
    try:
        yield source
    finally:
        _source = previous
