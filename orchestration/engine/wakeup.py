"""Waking workers: PostgreSQL LISTEN/NOTIFY with an indexed poll as fallback.

Transactions that create due work send `pg_notify` (see runtime.Writer.flush);
it is delivered at commit. Engine loops LISTEN on a connection of their own and
sleep until a notification arrives or the next known due time, at most a
second, so a timer fires within about a second without a busy loop. On SQLite
(one machine) loops poll the same indexed query four times a second.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Min

from orchestration import clock
from orchestration.engine.store import NOTIFY_CHANNEL
from orchestration.models import LoopHeartbeat, StepRun, Timer
from orchestration.states import RunStatus, TimerStatus

log = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(seconds=10)
_alive_checked = 0.0
_alive = False


def seconds_until_next_due(cap: float = 1.0) -> float:
    """Seconds until the next timer, ready run or lease expiry (at most `cap`)."""
    now = clock.now()
    candidates = [
        Timer.objects.filter(status=TimerStatus.PENDING).aggregate(t=Min("due_at"))["t"],
        StepRun.objects.filter(status=RunStatus.READY, topic="").aggregate(t=Min("due_at"))["t"],
        StepRun.objects.filter(status=RunStatus.RUNNING, topic="").aggregate(t=Min("lease_until"))[
            "t"
        ],
    ]
    due = [c for c in candidates if c is not None]
    if not due:
        return cap
    return max(0.0, min(cap, float((min(due) - now).total_seconds())))


class Listener:
    """Blocks until work may be due: a NOTIFY, or `timeout` seconds.

    One loop across the whole deployment leads: it holds a PostgreSQL advisory
    lock on this connection, LISTENs and takes new work the moment it is
    notified. The other loops help: they do not listen and only take steps that
    have waited longer than ORCHESTRATION_HELP_AFTER_MS, polling for them that
    often while they find some and backing off to four times a second when not
    (so that one of them takes the lead soon after a leader's loop ends). On a
    2-core host two loops that both woke for every NOTIFY split the work into
    batches of one or two rows and spent a third more CPU per instance than one
    loop (bench/engine.py); with a leader, helpers join only when the leader
    falls behind (slow handlers, bursts). A leader that dies drops its
    connection and with it the lock; the next helper to poll takes over.
    """

    LEAD_LOCK = 0x0E4C_0001  # advisory lock key: "engine loop leader"
    IDLE_POLL = 0.25  # seconds between a helper's polls while it finds nothing

    def __init__(self) -> None:
        self.conn: Any = None
        self.postgres = connection.vendor == "postgresql"
        self.leading = not self.postgres  # SQLite: one machine, one loop
        self.pause = settings.ORCHESTRATION_HELP_AFTER_MS / 1000
        if self.postgres:
            self._connect()

    def _connect(self) -> None:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.conn = psycopg.connect(**params, autocommit=True)

    def _lost(self) -> None:
        """The listening connection broke (database restart, network): this loop
        helps until the next round reconnects and, if nobody leads, leads."""
        log.warning("engine loop: listening connection lost; reconnecting")
        self.conn.close()  # psycopg closes a broken connection without raising
        self.conn, self.leading = None, False

    def try_lead(self) -> bool:
        """Lead if no other loop does; True while this loop leads."""
        if not self.postgres or self.leading:
            return self.leading
        try:
            if self.conn is None:
                self._connect()
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [self.LEAD_LOCK]).fetchone()
            if row[0]:
                self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                self.leading = True
        except psycopg.OperationalError:
            self._lost()
        return self.leading

    def helped(self, found: bool) -> None:
        """A helping loop's round found work (poll again soon) or none (back off)."""
        least = settings.ORCHESTRATION_HELP_AFTER_MS / 1000
        self.pause = least if found else min(self.IDLE_POLL, max(self.pause, least) * 2)

    def wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        if not self.postgres:
            time.sleep(min(timeout, 0.25))
            return
        if not self.leading:
            time.sleep(min(timeout, self.pause))
            return
        woken = False
        try:
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                woken = True
            if woken and settings.ORCHESTRATION_COALESCE_MS:
                # Let the commits of a burst land, so one claim takes them together
                # instead of every loop waking for every single start.
                time.sleep(settings.ORCHESTRATION_COALESCE_MS / 1000)
            # Drain whatever else arrived: one wake-up serves them all.
            for _ in self.conn.notifies(timeout=0.0):
                pass
        except psycopg.OperationalError:
            self._lost()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def beat(name: str) -> None:
    LoopHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": clock.now()})


def loops_alive() -> int:
    return LoopHeartbeat.objects.filter(seen_at__gte=clock.now() - HEARTBEAT_STALE).count()


def nudge() -> None:
    """After a commit that created work: make sure some engine loop is running.

    NOTIFY already woke any live loop; this only starts one (through django-q2)
    when none has been seen lately. Checked at most every two seconds per process.
    In sync mode (tests) nothing is started: tests drive workers themselves.
    """
    global _alive_checked, _alive
    if settings.Q_CLUSTER.get("sync"):
        return
    now = time.monotonic()
    if now - _alive_checked < 2.0 and _alive:
        return
    _alive_checked = now
    _alive = loops_alive() > 0
    if not _alive:
        from django_q.tasks import async_task

        async_task("orchestration.jobs.engine_loop", group="engine")
        _alive = True  # started one; do not pile more up before it beats
