"""Which hosts http steps may call: the same rule at publish time and at run time."""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

_LITERAL_HOST = re.compile(r"^https?://[^/?#{}\s]+([/?#]|$)")


def literal_origin(url: str) -> tuple[str, int] | None:
    """(host, port) written literally in `url` before any `{{ placeholder }}`, or None
    when the scheme is not http(s) or the host is not fixed text."""
    head, placeholder, _ = url.partition("{{")
    match = _LITERAL_HOST.match(head)
    if not match or (placeholder and not match.group(1)):
        return None  # a placeholder right after the host could extend it
    parts = urlsplit(head)
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.hostname.lower(), port


def host_allowed(url: str, allowed: Collection[str]) -> bool:
    """True when the URL's host is listed; a bare `host` entry allows any port,
    `host:port` only that port."""
    origin = literal_origin(url)
    if origin is None:
        return False
    host, port = origin
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == host or entry == f"{host}:{port}":
            return True
        if entry.startswith("[") and entry in {f"[{host}]", f"[{host}]:{port}"}:
            return True
    return False
