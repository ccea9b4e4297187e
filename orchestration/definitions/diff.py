"""Side-by-side diff of two versions' sources, as an escaped HTML table."""

from __future__ import annotations

import difflib


def source_diff_html(old: str, new: str, *, old_label: str, new_label: str) -> str:
    if old == new:
        return ""
    return difflib.HtmlDiff(tabsize=2, wrapcolumn=72).make_table(
        old.splitlines(), new.splitlines(), old_label, new_label, context=True, numlines=3
    )
