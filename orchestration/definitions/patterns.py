"""`pattern` of a variable: RE2, so matching takes time linear in the input.

Python's `re` backtracks: `(a+)+$` against forty `a`s and a `b` runs for
minutes, in a request or a worker. RE2 guarantees linear time and has no
backreferences or lookaround; a pattern that needs them is refused when the
definition is saved, with RE2's reason.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error is ours to report, not RE2's to print


class PatternError(ValueError):
    """Not a pattern RE2 accepts."""


@lru_cache(maxsize=1024)
def compile_pattern(text: str) -> Any:
    try:
        return re2.compile(text, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"not a pattern this engine accepts (RE2 syntax): {reason}") from None


def full_match(pattern: str, value: str) -> bool:
    return compile_pattern(pattern).fullmatch(value) is not None
