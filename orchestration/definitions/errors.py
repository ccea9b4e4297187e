from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class DefinitionError:
    """One problem in a definition, located by a path such as
    `steps.route.branches[0].next` and, once located in the source text
    (definitions/locate.py), by its 1-based line and column."""

    path: str
    message: str
    line: int | None = field(default=None, compare=False)
    column: int | None = field(default=None, compare=False)
    # What kind of problem, for code that relates errors (locate.explain), so
    # that it never depends on the message's words (they may be translated):
    # "unknown_field", "required", "dangling" (a step reference to nowhere),
    # "unreachable"; "" for the rest.
    code: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def located(self) -> str:
        """The text an editor's list shows: `line 31, column 22: path: message`."""
        if self.line is None:
            return str(self)
        return f"line {self.line}, column {self.column}: {self}"


class DefinitionInvalid(ValueError):
    """A definition was refused; `errors` lists every problem found."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    @property
    def messages(self) -> list[str]:
        return [str(e) for e in self.errors]
