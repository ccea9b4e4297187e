"""Background entry points run by django-q2 (thin: they call the engine)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections

from orchestration import log_context, sweeps, tracing
from orchestration.cluster import Membership
from orchestration.engine import wakeup
from orchestration.engine.worker import SideSweeps, Worker

log = logging.getLogger(__name__)


def engine_loop(seconds: float | None = None, *, stop: Callable[[], bool] = lambda: False) -> int:
    """Run due work until `seconds` pass (ORCHESTRATION_LOOP_SECONDS), sleeping on
    LISTEN/NOTIFY between rounds; returns how many items it handled. Loops are
    short-lived on purpose: django-q2 recycles them and a lost one is replaced.
    None of its own statements are traced, first to last (tracing.quiet)."""
    _freeze_once()
    with tracing.quiet():
        return _loop(seconds, stop)


_frozen = False


def _freeze_once() -> None:
    """Move what the process holds after its start-up (Django, the definitions,
    OpenTelemetry when on) out of the collector's sight, once per process: a
    full collection then walks only what the loops made since. Measured: the
    3-step benchmark's worker spent 557 ms of 6 s in the collector, 212 ms
    frozen (docs/performance.md). Garbage is collected first, so none is kept."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def _loop(seconds: float | None, stop: Callable[[], bool]) -> int:
    if wakeup.loops_alive() >= settings.ORCHESTRATION_LOOPS:
        # Enough loops run already (nudges queued while no cluster was up, say):
        # leave the django-q2 worker free for other jobs.
        return 0
    budget = seconds if seconds is not None else settings.ORCHESTRATION_LOOP_SECONDS
    deadline = time.monotonic() + budget
    stopping = _Signals()
    cluster = Membership()
    # On PostgreSQL the side sweeps run on a thread of their own; SQLite has
    # one writer at a time, so there they take turns with the rounds instead.
    inline = connection.vendor == "sqlite"
    worker = Worker(batch=64, sweep_interval=0.2, side=SIDE if inline else ((), ()))
    side = None if inline else _SideLoop()
    if side is not None:
        side.start()
    listener = wakeup.Listener()
    handled = 0
    last_beat = 0.0
    logged = log_context.bound(worker=worker.name)  # its lines name the loop
    logged.__enter__()
    try:
        while time.monotonic() < deadline and not stop() and not stopping():
            if time.monotonic() - last_beat > 2.0:
                if cluster.orphaned():  # qcluster was killed outright: no orphans
                    listener.close()
                    cluster.disband()
                wakeup.beat(worker.name)
                last_beat = time.monotonic()
            try:
                if listener.try_lead():
                    done = worker.work_once()
                else:
                    done = worker.work_once(waited=settings.ORCHESTRATION_HELP_AFTER_MS / 1000)
                    listener.helped(done > 0)
            except Exception:
                # One bad round (a bug, a lost connection) must not end the loop:
                # its transaction rolled back, so the work is still there.
                log.exception("engine loop %s: round failed", worker.name)
                close_old_connections()
                time.sleep(1.0)
                continue
            handled += done
            if done < worker.batch:
                # Less than a full batch: wait for the next NOTIFY (or the sweep
                # timer, which bounds timer lateness) instead of claiming again at
                # once. Under load the notifications are already there and the
                # wait is only the coalescing pause, so loops take work in batches
                # instead of spinning on one or two rows each (which cost the CPU
                # that web processes deciding tasks needed; bench/engine.py).
                listener.wait(max(worker.seconds_until_sweep(), 0.005))
    finally:
        if side is not None:
            side.stop()
        listener.close()
        worker.close()
        logged.__exit__(None, None, None)
        from orchestration.models import LoopHeartbeat

        LoopHeartbeat.objects.filter(name=worker.name).delete()
        close_old_connections()
        stopping.restore()
    return handled


# ---- the side sweeps ----------------------------------------------------------------------
def route_absences() -> int:
    """Tasks of people whose absence started go to whoever decides for them."""
    from orchestration import services

    return services.absences_route_started()


def seal_audit() -> int:
    """Seal what committed since the last sweep (not counted as work done: a
    loop with nothing else to do need not stay awake for it)."""
    from orchestration.audit import chain

    for _ in range(10):  # a burst larger than 10 x 2,000 rows waits for the next sweep
        if chain.seal_pending() < 2000:
            break
    return 0


def fold_metrics() -> int:
    """Count what was sealed since the last sweep into the engine's metrics (not
    counted as work done, like sealing)."""
    from orchestration.metrics import fold

    for _ in range(10):  # a burst larger than 10 x 5,000 rows waits for the next sweep
        if fold.fold_pending() < fold.READ_BATCH:
            break
    return 0


def send_mail() -> int:
    """Notifications sealed since the last sweep (after sealing: mail reads the sealed log)."""
    from orchestration.side_effects import mail

    return mail.send_pending()


def fan_out_webhooks() -> int:
    """Newly sealed events become deliveries, and the sending job starts when
    some are due and it is not running (sending never happens here)."""
    from orchestration.side_effects import webhooks

    webhooks.fan_out()
    webhooks.start_sender()
    return 0


# Before the timers fire (a reminder due now goes to whoever decides now), and after.
SIDE: SideSweeps = (
    (route_absences,),
    (seal_audit, fold_metrics, send_mail, fan_out_webhooks),
)


class _SideLoop(threading.Thread):
    """The side sweeps once a second, on a thread (and database connection) of
    their own beside the engine loop's rounds: a slow mail server, a burst to
    seal or a routing sweep never delays a due transition."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(name="side-sweeps", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            with tracing.quiet():  # a thread of its own: its own context
                self._rounds()
        finally:
            connections.close_all()

    def _rounds(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                for sweep in (*SIDE[0], *SIDE[1]):
                    sweeps.guarded(sweep)
            except Exception:  # the database's trouble: a fresh connection next time
                log.exception("side sweeps: round failed")
                close_old_connections()
            self.stopping.wait(max(0.05, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


class _Signals:
    """SIGTERM/SIGINT end the loop after its current round (work is durable, so a
    prompt exit loses nothing), instead of holding a shutting-down cluster for
    the rest of the loop's budget.

    When the loop is done, the worker's own handlers come back and a signal that
    arrived is raised again, so the process then does what it would have done
    without the loop: a django-q2 worker dies on SIGTERM (its default). Keeping
    the signal to ourselves left workers orphaned and running forever when a
    supervisor signalled the whole process group (systemd's default, and the
    demo), because django-q2's sentinel dies on that same SIGTERM and never
    sends them STOP.
    """

    WATCHED = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.WATCHED:
                self.previous[signum] = signal.signal(signum, self._catch)

    def _catch(self, signum: int, frame: object) -> None:
        self.received = signum

    def __call__(self) -> bool:
        return self.received is not None

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if self.received is not None and self.previous:
            signal.raise_signal(self.received)


def ensure_loops() -> int:
    """Scheduled every minute: start engine loops until ORCHESTRATION_LOOPS are
    alive, and a webhook sender when deliveries are due (retries come due
    between the engine's nudges too)."""
    from django_q.tasks import async_task

    from orchestration.side_effects import webhooks

    missing = max(0, settings.ORCHESTRATION_LOOPS - wakeup.loops_alive())
    for _ in range(missing):
        async_task("orchestration.jobs.engine_loop", group="engine")
    webhooks.start_sender()
    return missing


def purge_expired(seconds: float = 50.0) -> int:
    """Scheduled every 15 minutes: the audit log's monthly partitions are made
    ahead (PostgreSQL; orchestration/audit/partitions.py), then ended instances
    past their retention lose their personal data
    (orchestration/retention/purge.py); returns how many."""
    from orchestration.audit import partitions
    from orchestration.retention import purge

    with tracing.quiet():
        sweeps.guarded(lambda: len(partitions.ensure_ahead()))
        return purge.purge_due(seconds=seconds).removed.instances


def deliver_webhooks(seconds: float = 50.0) -> int:
    """Send due webhook deliveries for up to `seconds` (orchestration/side_effects/webhooks.py)."""
    from orchestration.side_effects import webhooks

    try:
        return webhooks.deliver_due(seconds=seconds)
    finally:
        webhooks.sender_done()
