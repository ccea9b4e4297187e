"""Built-in assignee resolvers (the engine calls them when it creates a task)."""

from __future__ import annotations

from typing import Any

from orchestration.handlers import resolver


@resolver("starter")
def starter(*, starter: Any, **_: Any) -> list[Any]:
    """The person who started the instance (a notify step telling the requester)."""
    return [starter] if starter is not None else []


@resolver("starter_manager")
def starter_manager(*, starter: Any, **_: Any) -> list[Any]:
    """The manager of the person who started the instance."""
    manager = getattr(starter, "manager", None)
    return [manager] if manager is not None else []
