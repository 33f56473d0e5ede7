"""Problems found in a bundle file: one shape for validate, the dialect reader and deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import BpmnError, Location

__all__ = ["Problem", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One diagnostic: a stable code, where, what, and what to do about it."""

    code: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None

    def __post_init__(self) -> None:
        # one line per problem, whatever a dependency put in its message
        message = " ".join(self.message.split())
        if len(message) > 400:
            message = message[:397] + "..."
        object.__setattr__(self, "message", message)

    def line_text(self) -> str:
        """`file:line: element "id": [CODE] what. hint: …` — one line, as the CLI prints it."""
        where = str(self.location)
        element = f' element "{self.location.element}":' if self.location.element else ""
        text = f"{where}:{element} [{self.code}] {self.message.rstrip('.')}."
        if self.hint:
            text += f" hint: {self.hint}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "line": self.location.line,
            "element": self.location.element,
            "message": self.message,
            "hint": self.hint,
        }

    @classmethod
    def from_error(cls, code: str, exc: BpmnError) -> Problem:
        return cls(code, "error", exc.message, exc.location or Location(), exc.hint)
