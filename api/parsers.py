"""Request bodies within a budget: JSON only, of a bounded size and depth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers

from api.errors import PayloadTooLarge
from orchestration import limits

# Room for the envelope around the largest value the engine stores.
_ENVELOPE = 16 * 1024


class BoundedJSONParser(parsers.JSONParser):
    """JSON bodies up to ORCHESTRATION_MAX_JSON_BYTES (plus an envelope);
    NaN, Infinity and nesting past the depth budget are refused."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        budget = limits.max_json_bytes() + _ENVELOPE
        raw = stream.read(budget + 1) if stream is not None else b""
        if len(raw) > budget:
            raise PayloadTooLarge(f"the request body is larger than {budget} bytes")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"the body is not valid JSON: {exc}") from None
        problem = limits.json_problem(data)
        if problem is not None:
            raise exceptions.ParseError(f"the body is not storable JSON: {problem}")
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
