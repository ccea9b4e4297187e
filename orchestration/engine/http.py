"""The http step client: templated requests to allowlisted hosts only.

2xx is success; a connection error, a timeout, 408, 429 (with Retry-After) and
5xx are retried; any other 4xx is a business error whose code is the `code` of
a JSON body, else `HTTP_<status>`.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from orchestration import clock
from orchestration.definitions import expressions
from orchestration.definitions.allowlist import host_allowed
from orchestration.exceptions import BusinessError, RetryableError

RETRYABLE_STATUS = {408, 429}


class HttpRetryable(RetryableError):
    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__(message)


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render `{{ }}` in strings of a JSON value. A string that is exactly one
    placeholder keeps the value's own type (a number stays a number)."""
    if isinstance(value, str):
        stripped = value.strip()
        match = expressions.PLACEHOLDER.fullmatch(stripped)
        if match:
            return expressions.evaluate(match.group(1), variables)
        return expressions.render(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def _http_date(value: str | None) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def retry_after_seconds(
    header: str | None, *, date: str | None = None, now: datetime | None = None
) -> float | None:
    """Retry-After as seconds: delta-seconds, or an HTTP date measured against the
    response's own `Date` header (the server's clock) when it sent one, else
    against our clock."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    when = _http_date(header)
    if when is None:
        return None
    base = _http_date(date) or now or clock.now()
    return max(0.0, (when - base).total_seconds())


def call(
    request: Mapping[str, Any],
    variables: Mapping[str, Any],
    *,
    idempotency_key: str,
    timeout: timedelta,
    allowed_hosts: Collection[str],
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Send the request; return {"status", "body"} or raise HttpRetryable / BusinessError.

    `timeout` is a deadline for the whole exchange (connect, send, every read),
    not per read: a server that trickles a byte a second is cut off in time.
    The response body is read up to ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES
    (decoded); a longer one is an error, never silently truncated."""
    try:
        # Placeholder values are percent-encoded: a variable cannot add a path,
        # a query or another host to the URL.
        url = expressions.render(request["url"], variables, escape=_url_part)
        headers = {
            k: expressions.render(v, variables) for k, v in (request.get("headers") or {}).items()
        }
        body = render_value(request["body"], variables) if "body" in request else None
    except expressions.ExpressionError as exc:
        raise BusinessError("TEMPLATE_ERROR", str(exc)) from None
    for name, value in headers.items():
        if "\r" in value or "\n" in value:  # would start another header: refused, not folded
            raise BusinessError(
                "INVALID_REQUEST", f"header {name}: a line break is not allowed in a header value"
            )
    if not host_allowed(url, allowed_hosts):
        raise BusinessError("HOST_NOT_ALLOWED", f"{url} is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS")
    headers.update(_auth_headers(request.get("auth") or {}))
    headers.setdefault("Idempotency-Key", idempotency_key)
    seconds = timeout.total_seconds()
    deadline = time.monotonic() + seconds
    limit = max_response_bytes()
    try:
        with (
            httpx.Client(timeout=seconds, transport=transport, follow_redirects=False) as client,
            client.stream(request["method"], url, headers=headers, json=body) as response,
        ):
            content = _read(response, deadline, limit, seconds)
    except httpx.TimeoutException:
        raise HttpRetryable("TIMEOUT", f"no answer within {seconds:g}s") from None
    except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
        # The message may quote a header value (a credential): never echo it.
        names = ", ".join(sorted(headers)) or "none"
        raise BusinessError(
            "INVALID_REQUEST", f"the request cannot be sent as written (headers: {names})"
        ) from None
    except httpx.TransportError as exc:
        raise HttpRetryable("CONNECTION_ERROR", type(exc).__name__) from None
    status = response.status_code
    payload = _json_or_text(content, response.encoding)
    if 200 <= status < 300:
        return {"status": status, "body": payload}
    if status in RETRYABLE_STATUS or status >= 500:
        raise HttpRetryable(
            f"HTTP_{status}",
            _describe(status, payload),
            retry_after_seconds(
                response.headers.get("Retry-After"), date=response.headers.get("Date")
            ),
        )
    code = payload.get("code") if isinstance(payload, dict) else None
    raise BusinessError(str(code) if code else f"HTTP_{status}", _describe(status, payload))


def max_response_bytes() -> int:
    return int(getattr(settings, "ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES", 1024 * 1024))


def _url_part(value: Any) -> str:
    return quote(value, safe="")


def _auth_headers(auth: Mapping[str, str]) -> dict[str, str]:
    """Credentials by name: the definition says which secret, the environment
    holds it (only names listed in ORCHESTRATION_SECRETS are looked up)."""
    name = auth.get("bearer_secret")
    if not name:
        return {}
    if name not in settings.ORCHESTRATION_SECRETS:
        raise BusinessError("SECRET_NOT_ALLOWED", f"secret {name} is not in ORCHESTRATION_SECRETS")
    value = os.environ.get(name)
    if not value:
        raise BusinessError("SECRET_MISSING", f"secret {name} is not set in the environment")
    return {"Authorization": f"Bearer {value}"}


def _read(response: httpx.Response, deadline: float, limit: int, seconds: float) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise BusinessError(
                "RESPONSE_TOO_LARGE",
                f"the response is larger than {limit} bytes"
                " (ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES)",
            )
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(f"no complete answer within {seconds:g}s")
    return b"".join(chunks)


def _json_or_text(content: bytes, encoding: str | None) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(encoding or "utf-8", errors="replace")


def _describe(status: int, payload: Any) -> str:
    text = json.dumps(payload) if not isinstance(payload, str) else payload
    return f"HTTP {status}: {text[:300]}"
