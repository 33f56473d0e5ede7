"""hennan_flow: run county 一件事一次办 service bundles as BPMN.

The public API is what `__all__` lists; everything else is internal.
"""

from __future__ import annotations

from .bundle import Bundle, Department, LegalBasis, Material, SpecialProcedure, Step, TimeLimit
from .engine import Engine, SimulatedClock
from .entities import Case, Deployment, Event, Task
from .errors import (
    BpmnError,
    CalendarRangeError,
    ConfigError,
    ConflictError,
    ExpressionError,
    FieldError,
    FindingsError,
    FormDataError,
    HennanFlowError,
    InputError,
    Location,
    NotFoundError,
    SchemaOutOfDateError,
    SimulationError,
    StateError,
)
from .workdays import WorkCalendar

__all__ = [
    "BpmnError",
    "Bundle",
    "CalendarRangeError",
    "Case",
    "ConfigError",
    "ConflictError",
    "Department",
    "Deployment",
    "Engine",
    "Event",
    "ExpressionError",
    "FieldError",
    "FindingsError",
    "FormDataError",
    "HennanFlowError",
    "InputError",
    "LegalBasis",
    "Location",
    "Material",
    "NotFoundError",
    "SchemaOutOfDateError",
    "SimulatedClock",
    "SimulationError",
    "SpecialProcedure",
    "StateError",
    "Step",
    "Task",
    "TimeLimit",
    "WorkCalendar",
]
