"""A data subject's keyed digest: how instances and holds name the person
they are about without keeping the value in clear (an erasure would have to
find and remove it there too).

HMAC-SHA256 keyed with SECRET_KEY; lookups also try SECRET_KEY_FALLBACKS,
so rotating the secret as Django documents keeps subjects findable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "orchestration.retention.subject"


def normalised(value: Any) -> str:
    """Case and surrounding space do not make another person."""
    return str(value).strip().casefold()


def subject_key(value: Any, *, secret: str | None = None) -> str:
    """The digest of a subject's value ("" for no value)."""
    text = normalised(value) if value is not None else ""
    if not text:
        return ""
    return salted_hmac(_SALT, text, secret=secret, algorithm="sha256").hexdigest()


def keys_for(value: Any) -> list[str]:
    """The digests `value` may be stored under: with the secret and each fallback."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [k for k in dict.fromkeys(subject_key(value, secret=s) for s in secrets) if k]


def subject_of(spec: Mapping[str, Any], business_key: str, variables: Mapping[str, Any]) -> Any:
    """The value the definition's `subject` names for an instance (None: none)."""
    path = spec.get("subject")
    if path == "business_key":
        return business_key or None
    if isinstance(path, str) and path.startswith("variables."):
        value = variables.get(path.removeprefix("variables."))
        return value if isinstance(value, str | int) and not isinstance(value, bool) else None
    return None
