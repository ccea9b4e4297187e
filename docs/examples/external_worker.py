#!/usr/bin/env python3
"""An external worker: runs the `external: TOPIC` steps of processes from
outside the engine (another network, another language), through the REST API.

Only the standard library, so it runs wherever Python 3.11 does:

    PROCESS_ENGINE_TOKEN=pe_... python3 external_worker.py \\
        --url https://engine.example.com --topic warehouse --topic carrier

Each round it fetches and locks up to --max-tasks tasks of its topics, runs the
function registered for the task's topic, and completes the task with the
variables the function returns, or fails it: a `Retryable` error is retried by
the step's policy (after at least `retry_in` seconds), any other error is a
business failure (the step's `on_error`, or the instance fails). Every request
that changes something carries an Idempotency-Key, so a request retried after
a lost answer acts once. The task's own idempotency_key goes to the systems
this worker calls, so a repeated attempt does not, say, reserve stock twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any


class Retryable(Exception):
    """A failure worth trying again later (a timeout, a busy dependency)."""

    def __init__(self, message: str, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


# What this worker knows how to do, by topic: variables in, new variables out.
def reserve_stock(variables: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return {"slot": f"slot-for-{variables.get('order', '?')}"}


def book_carrier(variables: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    return {"tracking": f"TRK-{idempotency_key[-6:]}"}


HANDLERS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "warehouse": reserve_stock,
    "carrier": book_carrier,
}


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    def post(self, path: str, body: dict[str, Any], key: str = "", tries: int = 3) -> Any:
        """POST with an Idempotency-Key; a connection lost before the answer is
        retried with the same key, so the engine acts once."""
        request = urllib.request.Request(  # noqa: S310 - the engine's URL
            f"{self.url}/api/v1/{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the engine's URL
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            problem = json.loads(error.read() or b"{}")
            raise RuntimeError(
                f"{error.code} {problem.get('code')}: {problem.get('detail')}"
            ) from None


def work(client: Client, worker_id: str, topics: list[str], max_tasks: int, lock: int) -> int:
    """One round: fetch, run, report. Returns how many tasks it handled."""
    tasks = client.post(
        "external-tasks/fetch-and-lock",
        {"worker_id": worker_id, "topics": topics, "max_tasks": max_tasks, "lock_duration": lock},
    )
    for task in tasks:
        handler = HANDLERS[task["topic"]]
        path = f"external-tasks/{task['id']}"
        # One key per report of this lock: a resent report is the same request.
        key = f"{worker_id}:{task['id']}:{task['lock_expires_at']}"
        body: dict[str, Any]
        try:
            outputs = handler(task["variables"], task["idempotency_key"])
            report, body = "complete", {"variables": outputs}
        except Retryable as exc:
            report, body = "fail", {"error": str(exc), "retryable": True}
            if exc.retry_in is not None:
                body["retry_in"] = exc.retry_in
        except Exception as exc:  # a business failure: not worth retrying
            report = "fail"
            body = {"error": str(exc), "code": type(exc).__name__, "retryable": False}
        try:
            client.post(f"{path}/{report}", {"worker_id": worker_id, **body}, key)
        except RuntimeError as exc:  # e.g. 409 lock_expired: another worker has it now
            print(f"task {task['id']}: {exc}", file=sys.stderr)
    return len(tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--topic", action="append", dest="topics", required=True)
    parser.add_argument("--worker-id", default=f"worker-{os.getpid()}")
    parser.add_argument("--max-tasks", type=int, default=10)
    parser.add_argument("--lock", type=int, default=60, help="seconds")
    parser.add_argument("--once", action="store_true", help="stop when no work is left")
    args = parser.parse_args()
    client = Client(args.url, os.environ["PROCESS_ENGINE_TOKEN"])
    while True:
        done = work(client, args.worker_id, args.topics, args.max_tasks, args.lock)
        if not done:
            if args.once:
                return
            time.sleep(1.0)


if __name__ == "__main__":
    main()
