"""Which hosts http steps may call: the same rule at publish time and at run time."""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

_LITERAL_HOST = re.compile(r"^https?://[^/?#{}\s]+([/?#]|$)")


def literal_origin(url: str) -> tuple[str, int] | None:
    """(host, port) written literally in `url` before any `{{ placeholder }}`, or None
    when the scheme is not http(s) or the host is not fixed text."""
    found = _origin(url)
    return None if found is None else (found[0], found[1])


def _origin(url: str) -> tuple[str, int, bool] | None:
    head, placeholder, _ = url.partition("{{")
    match = _LITERAL_HOST.match(head)
    if not match or (placeholder and not match.group(1)):
        return None  # a placeholder right after the host could extend it
    parts = urlsplit(head)
    if not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        return None
    return parts.hostname.lower(), port, port == default


def host_allowed(url: str, allowed: Collection[str]) -> bool:
    """True when the URL's host is listed: a bare `host` entry allows only the
    scheme's default port (80, 443), `host:port` only that port, so listing a
    host does not open its admin or database ports."""
    origin = _origin(url)
    if origin is None:
        return False
    host, port, default = origin
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == f"{host}:{port}" or (default and entry == host):
            return True
        if entry.startswith("[") and (
            entry == f"[{host}]:{port}" or (default and entry == f"[{host}]")
        ):
            return True
    return False
