"""What the core's rule mixins (approvals, each, regions, attached events,
joins, interventions) may rely on: the state machine's fields and the
moves they share. engine/core.py's _Machine implements every one of them;
the mixins are kept apart so that each set of rules reads in one place."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.engine.events import Effect
from orchestration.engine.state import Snapshot

if TYPE_CHECKING:
    from orchestration.engine.core import Definition


class MachineParts:
    d: Definition
    snap: Snapshot
    effects: list[Effect]
    now: datetime

    @property
    def tokens(self) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    @property
    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _new_id(self) -> str:
        raise NotImplementedError

    def shown(self, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def _token_at(self, token: str, step: str, wait: str) -> dict[str, Any]:
        raise NotImplementedError

    def _advance(self, token: str, step_id: str) -> None:
        raise NotImplementedError

    def _fail(self, token: str | None, step: str, code: str, message: str, **extra: Any) -> None:
        raise NotImplementedError

    def _finish(self, status: str, result: str, *, keep: str | None = None) -> None:
        raise NotImplementedError

    def _begin_compensation(
        self, token: str | None, *, then: str | None, cancel: bool,
        only: set[str] | None = None,
    ) -> None:  # fmt: skip
        raise NotImplementedError

    # ---- one mixin's, used by another ------------------------------------------------------
    def _attach(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        raise NotImplementedError

    def _interrupt(self, token: str, step_id: str, index: int, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _first_came(self, token: str, step_id: str, index: int, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _withdraw_token(self, token: str) -> None:
        raise NotImplementedError

    def _withdraw_entries(self, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _parent_of(self, etok: Mapping[str, Any]) -> str | None:
        raise NotImplementedError

    def _drop_failed_entry(self, entry: str) -> str | None:
        raise NotImplementedError

    def _unbind(self, step_id: str, execution: int) -> None:
        raise NotImplementedError

    def _close_region(self, frame: str) -> None:
        raise NotImplementedError

    def _dequeue(self, token: str, tok: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _inside(self, region_id: str) -> set[str]:
        raise NotImplementedError
