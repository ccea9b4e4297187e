"""Registry of Python step handlers and assignee resolvers.

Handlers are registered by name (`@handler("billing.charge")`) in modules listed
in the ORCHESTRATION_HANDLER_MODULES setting, imported when Django starts.
A handler receives the instance variables and a StepContext and returns a dict
of outputs (merged into the variables) or None. It raises RetryableError for a
transient failure and BusinessError(code) for a business outcome.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class StepContext:
    instance_id: int
    step_id: str
    attempt: int
    idempotency_key: str  # same across retries of one step execution


Handler = Callable[[Mapping[str, Any], StepContext], Mapping[str, Any] | None]
Resolver = Callable[..., list[Any]]

_handlers: dict[str, Handler] = {}
_resolvers: dict[str, Resolver] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        existing = _handlers.get(name)
        if existing is not None and existing is not func:
            raise ValueError(f"handler {name!r} is already registered by {existing!r}")
        _handlers[name] = func
        return func

    return register


def resolver(name: str) -> Callable[[Resolver], Resolver]:
    def register(func: Resolver) -> Resolver:
        _resolvers[name] = func
        return func

    return register


def get_handler(name: str) -> Handler:
    return _handlers[name]


def get_resolver(name: str) -> Resolver:
    return _resolvers[name]


def handler_names() -> frozenset[str]:
    return frozenset(_handlers)


def resolver_names() -> frozenset[str]:
    return frozenset(_resolvers)


def autodiscover() -> None:
    importlib.import_module("orchestration.resolvers")
    for module in getattr(settings, "ORCHESTRATION_HANDLER_MODULES", []):
        importlib.import_module(module)
