"""hennan_flow: run county 一件事一次办 service bundles as BPMN.

The public API is what `__all__` lists; everything else is internal.
"""

from __future__ import annotations

from .bundle import Bundle, Department, LegalBasis, Material, SpecialProcedure, Step, TimeLimit
from .errors import (
    BpmnError,
    CalendarRangeError,
    ConfigError,
    ConflictError,
    ExpressionError,
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

__all__ = [
    "BpmnError",
    "Bundle",
    "CalendarRangeError",
    "ConfigError",
    "ConflictError",
    "Department",
    "ExpressionError",
    "FindingsError",
    "FormDataError",
    "HennanFlowError",
    "InputError",
    "LegalBasis",
    "Location",
    "Material",
    "NotFoundError",
    "SchemaOutOfDateError",
    "SimulationError",
    "SpecialProcedure",
    "StateError",
    "Step",
    "TimeLimit",
]
