"""hennan_flow: run county 一件事一次办 service bundles as BPMN.

The public API is what `__all__` lists; everything else is internal. The engine (and with it
SQLAlchemy and SpiffWorkflow) is imported on first use, so `validate` and `audit` start light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .bundle import Bundle, Department, LegalBasis, Material, SpecialProcedure, Step, TimeLimit
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

_LAZY = {"Engine": "engine", "SimulatedClock": "engine"}

if _TYPE_CHECKING:
    from .engine import Engine, SimulatedClock


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hennan_flow' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
