"""Environment readers that fail loudly.

Production reads every setting from the environment; a missing required value
is an ImproperlyConfigured error at start-up, never a silent default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_NOTSET = object()


def env_str(name: str, default: str | object = _NOTSET) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is _NOTSET:
            raise ImproperlyConfigured(f"Set the environment variable {name}.")
        return str(default)
    return value


def env_bool(name: str, default: bool | object = _NOTSET) -> bool:
    raw = env_str(name, "" if default is _NOTSET else ("1" if default else "0"))
    if raw == "" and default is _NOTSET:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}.")


def env_int(name: str, default: int | object = _NOTSET) -> int:
    raw = env_str(name, default if default is _NOTSET else str(default))
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_list(name: str, default: list[str] | object = _NOTSET) -> list[str]:
    """Comma-separated list; blanks are dropped."""
    if isinstance(default, list) and name not in os.environ:
        return list(default)
    return [item.strip() for item in env_str(name).split(",") if item.strip()]


def env_json(name: str, default: object = _NOTSET) -> Any:
    """A JSON value (an object, say); malformed JSON stops start-up."""
    if default is not _NOTSET and name not in os.environ:
        return default
    raw = env_str(name)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be JSON: {exc}") from None


def require_development_checkout(root: Path) -> None:
    """The development settings fill in an insecure secret key, DEBUG and a local
    SQLite file. They apply only in a development checkout (a git work tree, or
    PROCESS_ENGINE_DEVELOPMENT=1): a deployed copy that forgot
    DJANGO_SETTINGS_MODULE must fail loudly, not run with a public secret key."""
    if (root / ".git").exists() or os.environ.get("PROCESS_ENGINE_DEVELOPMENT") == "1":
        return
    raise ImproperlyConfigured(
        f"config.settings.local is for a development checkout, and {root} is not one."
        " Run with DJANGO_SETTINGS_MODULE=config.settings.base and the variables in"
        " docs/operations.md (or set PROCESS_ENGINE_DEVELOPMENT=1 to develop here)."
    )
