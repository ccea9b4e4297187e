"""Sensitive values at rest: encrypted envelopes in the JSON the product keeps.

A sensitive value is stored as {"$sensitive": "<Fernet token>"}: the token
holds the value's JSON, encrypted and authenticated with the newest key of
ORCHESTRATION_ENCRYPTION_KEYS (Fernet keys, newest first, comma-separated;
older keys still decrypt, so keys rotate: add a new one in front, seal
every envelope again with `rotated`, then drop the old one). An envelope
describes itself, so whatever renders stored JSON can mask it without
knowing the definition (`masked`), and whatever needs the value opens it
(`opened`).

This module holds the envelope and the keys only; where envelopes are made
and opened is the runtime's business (docs/security.md "Sensitive values").
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FIELD = "$sensitive"
MASK = "••••••"


class NoKeys(ImproperlyConfigured):
    """A value must be encrypted and ORCHESTRATION_ENCRYPTION_KEYS is empty."""


class Unreadable(ValueError):
    """An envelope no configured key opens (the key that sealed it was dropped,
    or the token was changed)."""


def keys_of(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


@cache
def _fernet(keys: str) -> MultiFernet:
    found = keys_of(keys)
    if not found:
        raise NoKeys(
            "ORCHESTRATION_ENCRYPTION_KEYS is empty: sensitive values cannot be encrypted "
            "(a key: python3 -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )
    try:
        return MultiFernet([Fernet(k.encode()) for k in found])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "ORCHESTRATION_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes "
            f"(a Fernet key): {exc}"
        ) from exc


def _keys() -> str:
    return str(settings.ORCHESTRATION_ENCRYPTION_KEYS)


def fernet() -> MultiFernet:
    return _fernet(_keys())


def configured() -> bool:
    return bool(keys_of(_keys()))


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(FIELD), str)


def seal(value: Any) -> Any:
    """The value as an envelope (an envelope stays as it is)."""
    if is_sealed(value):
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return {FIELD: fernet().encrypt(text.encode()).decode()}


def open_(envelope: Any) -> Any:
    """The value an envelope holds (anything else as it is)."""
    if not is_sealed(envelope):
        return envelope
    try:
        return json.loads(fernet().decrypt(envelope[FIELD].encode()))
    except InvalidToken as exc:
        raise Unreadable("no configured key opens this sensitive value") from exc


def _map(value: Any, envelope: Any) -> Any:
    """`value` with every envelope in it, at any depth, replaced by `envelope(it)`."""
    if is_sealed(value):
        return envelope(value)
    if isinstance(value, dict):
        return {k: _map(v, envelope) for k, v in value.items()}
    if isinstance(value, list):
        return [_map(v, envelope) for v in value]
    return value


def opened(value: Any) -> Any:
    """`value` with every envelope in it opened, at any depth (`value` itself,
    not a copy, when it holds none: most do, and the engine reads on every step)."""
    return _map(value, open_) if holds_sealed(value) else value


def masked(value: Any) -> Any:
    """`value` with every envelope in it shown as MASK, at any depth."""
    return _map(value, lambda _: MASK) if holds_sealed(value) else value


def holds_sealed(value: Any) -> bool:
    """Whether `value` holds an envelope anywhere."""
    if is_sealed(value):
        return True
    if isinstance(value, dict):
        return any(holds_sealed(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_sealed(v) for v in value)
    return False


def sealed_at(values: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    """`values` with the values at `paths` sealed: a top-level name
    ("salary"), or a step's form field under the step's id ("review.iban")."""
    out = dict(values)
    for path in paths:
        name, _, field = path.partition(".")
        if name not in out:
            continue
        if not field:
            out[name] = seal(out[name])
        elif isinstance(out[name], dict) and field in out[name]:
            out[name] = {**out[name], field: seal(out[name][field])}
    return out


def rotated(value: Any) -> tuple[Any, int]:
    """`value` with every envelope sealed again under the newest key, and
    how many envelopes it held."""
    if is_sealed(value):
        return {FIELD: fernet().rotate(value[FIELD].encode()).decode()}, 1
    if isinstance(value, dict):
        out, count = {}, 0
        for k, v in value.items():
            out[k], n = rotated(v)
            count += n
        return out, count
    if isinstance(value, list):
        items, count = [], 0
        for v in value:
            item, n = rotated(v)
            items.append(item)
            count += n
        return items, count
    return value, 0
