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
    "BatchReport",
    "BpmnError",
    "Bundle",
    "CalendarRangeError",
    "Card",
    "CardTransition",
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
    "Issued",
    "LegalBasis",
    "Location",
    "Material",
    "NotFoundError",
    "OutboxEvent",
    "SchemaOutOfDateError",
    "SimulatedClock",
    "SimulationError",
    "SpecialProcedure",
    "StateError",
    "Step",
    "SweepResult",
    "Task",
    "TimeLimit",
    "WorkCalendar",
]

_LAZY = {
    "BatchReport": "sweeper",
    "Card": "supervision",
    "CardTransition": "supervision",
    "Engine": "engine",
    "Issued": "supervision",
    "OutboxEvent": "supervision",
    "SimulatedClock": "engine",
    "SweepResult": "sweeper",
}

if _TYPE_CHECKING:
    from .engine import Engine, SimulatedClock
    from .supervision import Card, CardTransition, Issued, OutboxEvent
    from .sweeper import BatchReport, SweepResult


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hennan_flow' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
