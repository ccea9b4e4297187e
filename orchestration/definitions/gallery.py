"""The templates a new definition starts from (the admin's gallery): each a
valid definition in definitions/gallery/, its first comment lines saying what
it shows. A test publishes every one."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

# In the order the gallery shows them.
NAMES = (
    ("single-approval", "Single approval"),
    ("two-levels-with-escalation", "Two levels with escalation"),
    ("parallel-review-quorum", "Parallel review with a quorum"),
    ("external-worker", "External worker"),
    ("withdrawable-request", "A request the requester may withdraw"),
)


@dataclass(frozen=True)
class Template:
    slug: str
    title: str
    summary: str
    source: str


def templates() -> list[Template]:
    folder = resources.files("orchestration.definitions").joinpath("gallery")
    out = []
    for slug, title in NAMES:
        source = folder.joinpath(f"{slug}.yaml").read_text(encoding="utf-8")
        comments = [line[1:].strip() for line in source.splitlines() if line.startswith("#")]
        out.append(Template(slug, title, " ".join(comments), source))
    return out


def template(slug: str) -> Template | None:
    return next((t for t in templates() if t.slug == slug), None)
