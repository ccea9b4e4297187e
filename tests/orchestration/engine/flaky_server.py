"""A local HTTP service that misbehaves on purpose (fails N times, hangs, 429, 400)."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FlakyServer:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                key = self.headers.get("Idempotency-Key", "")
                outer.calls.append(
                    {"path": self.path, "key": key, "body": body, "headers": dict(self.headers)}
                )
                outer.counts[self.path + key] += 1
                n = outer.counts[self.path + key]
                kind, _, arg = self.path.strip("/").partition("/")
                if kind == "fail" and n <= int(arg):
                    return self.reply(503, {"error": "unavailable"})
                if kind == "hang" and n == 1:
                    outer.released.wait(30)  # far past any step timeout; ends at shutdown
                if kind == "limit" and n == 1:
                    return self.reply(429, {"error": "slow down"}, {"Retry-After": "7"})
                if kind == "reject":
                    return self.reply(400, {"code": "invalid_account", "detail": "no such account"})
                if kind == "plain":
                    return self.reply(403, None)
                if kind == "big":
                    return self.reply(200, {"blob": "x" * int(arg)})
                if kind == "pieces":  # JSON in pieces of 300 bytes, 20 ms apart, no length
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    data = json.dumps({"blob": "x" * int(arg)}).encode()
                    for start in range(0, len(data), 300):
                        if outer.released.wait(0.02):
                            return None
                        self.wfile.write(data[start : start + 300])
                        self.wfile.flush()
                    return None
                if kind == "trickle":  # headers at once, then a byte every 0.2 s
                    self.send_response(200)
                    self.send_header("Content-Length", "50")
                    self.end_headers()
                    for _ in range(50):
                        if outer.released.wait(0.2):
                            return None
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    return None
                return self.reply(200, {"ok": True, "echo": body, "attempt": n})

            def reply(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"
