"""A cluster whose main process is killed outright leaves no orphans: its
engine loops notice and stop the rest (orchestration/cluster.py).

The process tree is django-q2's (main -> sentinel -> workers, each a
multiprocessing child of the one before), built here without django-q2 so the
test needs no broker: the workers run what an engine loop runs between rounds."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from orchestration import cluster

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _worker(ready) -> None:
    membership = cluster.Membership()
    ready.put(("worker", os.getpid()))
    while True:  # an engine loop's rounds, each asking between them
        if membership.orphaned():
            membership.disband()
        time.sleep(0.05)


def _idle() -> None:
    while True:  # a sentinel's other children (monitor, pusher): no loop of their own
        time.sleep(0.05)


def _sentinel(ready) -> None:
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_worker, args=(ready,)) for _ in range(2)]
    children.append(ctx.Process(target=_idle))
    for child in children:
        child.start()
    ready.put(("sentinel", os.getpid()))
    while True:
        time.sleep(0.05)


def _main(ready) -> None:
    ctx = multiprocessing.get_context("fork")
    ctx.Process(target=_sentinel, args=(ready,)).start()
    while True:
        time.sleep(0.05)


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_killing_the_main_process_leaves_no_orphans() -> None:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    main = ctx.Process(target=_main, args=(ready,))
    main.start()
    started = dict(ready.get(timeout=10) for _ in range(3))  # two workers and the sentinel
    sentinel = started["sentinel"]
    tree = [sentinel, *cluster._children_of(sentinel)]  # the workers and an idle child
    assert len(set(tree)) == 4 and all(alive(p) for p in tree)
    time.sleep(0.3)
    assert all(alive(p) for p in tree)  # all well while the main process lives
    os.kill(main.pid, signal.SIGKILL)
    main.join()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in tree if alive(p)]
    for pid in left:  # never leave them behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_outside_a_cluster_nothing_is_orphaned() -> None:
    membership = cluster.Membership()
    assert (membership.sentinel, membership.orphaned()) == (None, False)
    assert sys.platform != "linux" or cluster._parent_of(os.getpid()) == os.getppid()
