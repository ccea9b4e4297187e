"""Text from people or other systems, made safe for a single line: a mail
header, an HTTP header, a log line.

Line breaks are folded where the text is written (a mail subject from a task
title, a log message), not refused where it was typed: the same variable may
rightly hold several lines (a description shown on the task page) and only
becomes dangerous in a header, where a line break starts a new header. HTTP
step headers are the exception: their values go to another system, so a value
with a line break is refused there (an INVALID_REQUEST error naming the
header), never changed silently. See docs/security.md.
"""

from __future__ import annotations

import logging
import re

# Every character some reader takes for the end of a line, and the other C0
# controls (a terminal or a log viewer may act on them).
_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line: each run of line breaks and control characters
    becomes one space; cut to `limit` characters."""
    folded = _BREAKS.sub(" ", str(text)).strip()
    return folded if limit is None else folded[:limit]


def has_break(text: str) -> bool:
    return bool(_BREAKS.search(str(text)))


class OneLineFormatter(logging.Formatter):
    """A log record's message on one line (a value with a line break cannot
    forge a second record); its traceback, if any, still follows it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)
