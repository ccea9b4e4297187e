"""Whether the django-q2 cluster a worker process belongs to is still there.

`qcluster` (the main process) starts a sentinel process, which starts the
workers that run engine loops. Killed outright (SIGKILL, an OOM kill), the
main process leaves its sentinel and workers behind as orphans that go on
running loops; a supervisor that restarts qcluster then runs two clusters.
A loop asks `orphaned()` every few seconds; when its cluster's main process is
gone, `disband()` stops the orphans: the sentinel's other children and the
sentinel, then the calling worker itself. Outside a cluster (tests, commands)
both do nothing. Linux (/proc); elsewhere `orphaned()` is always False, and
the documented systemd unit (KillMode=control-group) does the same job.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def _parent_of(pid: int) -> int | None:
    """The parent process id of `pid` (None when it is gone or unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (name) state ppid ...": the name may hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid and _parent_of(int(entry.name)) == pid:
            found.append(int(entry.name))
    return found


class Membership:
    """This process's place in a cluster, read when the loop starts."""

    def __init__(self) -> None:
        parent = multiprocessing.parent_process()
        self.sentinel = parent.pid if parent is not None else None
        self.main = _parent_of(self.sentinel) if self.sentinel else None

    def orphaned(self) -> bool:
        """The sentinel's parent is no longer the cluster's main process."""
        if not self.sentinel or not self.main or self.main <= 1:
            return False
        return _parent_of(self.sentinel) != self.main

    def disband(self) -> None:
        """Stop the orphaned cluster: its other processes, the sentinel, and
        this one (the loop's work is durable: nothing is lost)."""
        assert self.sentinel is not None
        me = os.getpid()
        # One loop of the cluster stops it: two that both killed the other
        # first left the sentinel and its other children running (seen in CI).
        # The lock goes with its holder, so a loop that dies holding it frees it.
        lock = Path(tempfile.gettempdir()) / f"orchestration-disband-{self.sentinel}.lock"
        handle = lock.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os._exit(0)  # another loop of this cluster is stopping it, this one too
        log.error("cluster main process %s is gone: stopping its orphans", self.main)
        for pid in [*(p for p in _children_of(self.sentinel) if p != me), self.sentinel]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(0)
