"""The one error tree of hennan_flow.

Each class carries the exit code the CLI uses for it, so the CLI has a single boundary that turns an
error into one line on stderr and that code. Branches follow what the caller can do::

    HennanFlowError (3, internal)
    ├── InputError (2): the input is wrong; fix it and retry
    │   ├── BpmnError            a bundle file (file, line, element)
    │   ├── FormDataError        step data against its form schema (one message per field)
    │   ├── ExpressionError      a designer expression refused or failing (element, expression)
    │   ├── CalendarRangeError   a date outside the working-day data (year, how to add it)
    │   ├── ConfigError          a bad option, catalogue, override file, URL
    │   ├── NotFoundError        an unknown case, task, card, process key
    │   ├── StateError           an illegal transition (complete a finished step, CLOSED → OPEN)
    │   ├── SimulationError      --now/clock= on a real database, --simulation on one with data
    │   └── SchemaOutOfDateError the database schema is behind (hint: hennan-flow db upgrade)
    ├── ConflictError (1): lost a race (another worker completed the step first)
    ├── DeliveryError (1): a receiver did not acknowledge a batch (exchange push; the cursor stays)
    ├── PermissionDenied (4): the actor may not do this (DESIGN §8: names actor, operation, need)
    └── FindingsError (1): deploy refused a bundle with validate or audit errors

Dependency exceptions (lxml, SpiffWorkflow, SQLAlchemy, jsonschema) are mapped onto these at the
module that calls the dependency, never leaked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "BpmnError",
    "CalendarRangeError",
    "ConfigError",
    "ConflictError",
    "DeliveryError",
    "ExpressionError",
    "FieldError",
    "FindingsError",
    "FormDataError",
    "HennanFlowError",
    "InputError",
    "Location",
    "NotFoundError",
    "PermissionDenied",
    "SchemaOutOfDateError",
    "SimulationError",
    "StateError",
]


@dataclass(frozen=True)
class Location:
    """Where a problem is: file, line, BPMN element id and (for materials) the material id."""

    file: str | None = None
    line: int | None = None
    element: str | None = None
    material: str | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line:
            where += f":{self.line}"
        return where


class HennanFlowError(Exception):
    """Base of every error hennan_flow raises on purpose."""

    exit_code: ClassVar[int] = 3

    def __init__(self, message: str, *, hint: str | None = None, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        text = self._body()
        if self.hint:
            text = f"{text.rstrip('. 。')}。建议：{self.hint}"
        return text

    def _body(self) -> str:
        """Where and what, without the hint."""
        parts = []
        if self.location is not None and (self.location.file or self.location.line):
            parts.append(f"{self.location}:")
        if self.location is not None and self.location.element:
            parts.append(f'element "{self.location.element}":')
        parts.append(self.message)
        return " ".join(parts)


class InputError(HennanFlowError):
    """The input is wrong: a file, an argument, data. Fix it and retry."""

    exit_code: ClassVar[int] = 2


class BpmnError(InputError):
    """A bundle file cannot be used (unreadable, not XML, unsafe, not executable).

    `code` is the stable diagnostic code validate reports for it (e.g. XML-SYNTAX, IO-READ).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        code: str | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.code = code


@dataclass(frozen=True)
class FieldError:
    """One field of a form submission that its schema refuses."""

    field: str  # JSON pointer of the field, "/" for the whole document
    message: str


class FormDataError(InputError):
    """Step data refused by the step's form schema; nothing was stored."""

    def __init__(
        self,
        message: str,
        *,
        fields: tuple[FieldError, ...] = (),
        hint: str | None = None,
        location: Location | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.fields = fields

    def _body(self) -> str:
        text = super()._body()
        if self.fields:
            text += "（" + "；".join(f"{f.field}：{f.message}" for f in self.fields) + "）"
        return text


class ExpressionError(InputError):
    """A designer expression was refused by the sandbox or failed while evaluating."""

    def __init__(
        self,
        message: str,
        *,
        expression: str = "",
        hint: str | None = None,
        location: Location | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.expression = expression


class CalendarRangeError(InputError):
    """A date outside the working-day data: never guessed."""

    def __init__(self, message: str, *, year: int, hint: str | None = None):
        super().__init__(
            message,
            hint=hint
            or f"载入覆盖 {year} 年的本县日历文件：hennan-flow calendar load FILE"
            f"（或加 --calendar FILE），其中 years = [{year}]；国务院公布 {year} 年安排之前："
            f"hennan-flow calendar provisional {year}",
        )
        self.year = year


class ConfigError(InputError):
    """A bad option, catalogue, override file or database URL."""


class NotFoundError(InputError):
    """An unknown case, task, card or process key."""


class StateError(InputError):
    """An illegal transition, e.g. completing a finished step or CLOSED → OPEN."""


class SimulationError(InputError):
    """Simulated time asked of a real database, or a simulation mark asked of one with data."""


class SchemaOutOfDateError(InputError):
    """The database schema is behind this version of hennan_flow."""


class ConflictError(HennanFlowError):
    """Another worker changed the same thing first; re-read and decide again."""

    exit_code: ClassVar[int] = 1


class DeliveryError(HennanFlowError):
    """A receiver did not acknowledge what was sent (exchange push): nothing moved; send again later."""

    exit_code: ClassVar[int] = 1


class FindingsError(HennanFlowError):
    """A check failed: deploy refused a bundle with validate or audit errors."""

    exit_code: ClassVar[int] = 1


class PermissionDenied(HennanFlowError):
    """The actor may not do this operation (DESIGN §8); nothing was changed."""

    exit_code: ClassVar[int] = 4
