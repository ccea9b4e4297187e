from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class DefinitionError:
    """One problem in a definition, located by a path such as `steps.route.branches[0].next`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionInvalid(ValueError):
    """A definition was refused; `errors` lists every problem found."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    @property
    def messages(self) -> list[str]:
        return [str(e) for e in self.errors]
