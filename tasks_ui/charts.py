"""Charts drawn on the server as SVG (readable without JavaScript; each has a
table beside it for screen readers and for copying)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# Started, completed, failed: blue, green, red (the badges' colours).
SERIES = (("started", "#1a73e8"), ("completed", "#1e8e3e"), ("failed", "#d93025"))


def day_bars(days: Sequence[object], label: str) -> SafeString:
    """Grouped bars per day: started, completed, failed."""
    width, height, pad = 640, 180, 28
    top = max((max(getattr(d, name) for name, _ in SERIES) for d in days), default=0) or 1
    slot = (width - 2 * pad) / max(len(days), 1)
    bar = max(1.0, slot / (len(SERIES) + 1))
    parts = []
    for i, day in enumerate(days):
        for j, (name, colour) in enumerate(SERIES):
            value = getattr(day, name)
            h = (height - 2 * pad) * value / top
            x = pad + i * slot + j * bar
            y = height - pad - h
            when = date_format(day.day, "SHORT_DATE_FORMAT")  # type: ignore[attr-defined]
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(when)}: {escape(name)} {value}</title></rect>'
            )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#5f6368"/>'
        f'<text x="{pad}" y="{pad - 10}" font-size="11">{top}</text>'
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}">{}{}</svg>',
        width, height, label, mark_safe(axis), mark_safe("".join(parts)),  # noqa: S308
    )  # fmt: skip
