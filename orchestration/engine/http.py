"""The http step client: templated requests to allowlisted hosts only.

2xx is success; a connection error, a timeout, 408, 429 (with Retry-After) and
5xx are retried; any other 4xx is a business error whose code is the `code` of
a JSON body, else `HTTP_<status>`.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orchestration import clock
from orchestration.definitions import expressions
from orchestration.definitions.allowlist import host_allowed
from orchestration.exceptions import BusinessError, RetryableError

RETRYABLE_STATUS = {408, 429}
MAX_RESPONSE_BYTES = 5 * 1024 * 1024


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
    """Send the request; return {"status", "body"} or raise HttpRetryable / BusinessError."""
    try:
        url = expressions.render(request["url"], variables)
        headers = {
            k: expressions.render(v, variables) for k, v in (request.get("headers") or {}).items()
        }
        body = render_value(request["body"], variables) if "body" in request else None
    except expressions.ExpressionError as exc:
        raise BusinessError("TEMPLATE_ERROR", str(exc)) from None
    if not host_allowed(url, allowed_hosts):
        raise BusinessError("HOST_NOT_ALLOWED", f"{url} is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS")
    headers.setdefault("Idempotency-Key", idempotency_key)
    seconds = timeout.total_seconds()
    try:
        with httpx.Client(timeout=seconds, transport=transport, follow_redirects=False) as client:
            response = client.request(request["method"], url, headers=headers, json=body)
    except httpx.TimeoutException as exc:
        raise HttpRetryable("TIMEOUT", f"no answer within {seconds:g}s: {exc}") from None
    except httpx.TransportError as exc:
        raise HttpRetryable("CONNECTION_ERROR", str(exc) or type(exc).__name__) from None
    status = response.status_code
    payload = _json_or_text(response)
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


def _json_or_text(response: httpx.Response) -> Any:
    content = response.content[:MAX_RESPONSE_BYTES]
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(response.encoding or "utf-8", errors="replace")


def _describe(status: int, payload: Any) -> str:
    text = json.dumps(payload) if not isinstance(payload, str) else payload
    return f"HTTP {status}: {text[:300]}"
