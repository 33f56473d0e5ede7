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
    "CaseMaterials",
    "Commitment",
    "ConfigError",
    "ConflictError",
    "CreditRecord",
    "Department",
    "Deployment",
    "Engine",
    "Event",
    "ExpressionError",
    "FieldError",
    "FindingsError",
    "FormDataError",
    "HennanFlowError",
    "HttpLicenceProvider",
    "InputError",
    "Issued",
    "LegalBasis",
    "Licence",
    "LicenceCheck",
    "LicenceError",
    "LicenceNotFoundError",
    "LicenceProtocolError",
    "LicenceProvider",
    "LicenceRejectedError",
    "LicenceRequest",
    "LicenceTimeoutError",
    "LicenceUnavailableError",
    "Location",
    "Material",
    "Missing",
    "NoProvider",
    "NoProviderError",
    "NotFoundError",
    "OutboxEvent",
    "Rectification",
    "Review",
    "ReviewSummary",
    "SchemaOutOfDateError",
    "SimulatedClock",
    "SimulationError",
    "SpecialProcedure",
    "StateError",
    "Step",
    "SupervisionReport",
    "SweepResult",
    "Task",
    "TimeLimit",
    "Tolerance",
    "WorkCalendar",
]

_LAZY = {
    "BatchReport": "sweeper",
    "Card": "supervision",
    "CardTransition": "supervision",
    "CaseMaterials": "tolerance",
    "Commitment": "commitments",
    "CreditRecord": "commitments",
    "Engine": "engine",
    "HttpLicenceProvider": "licences",
    "Issued": "supervision",
    "Licence": "licences",
    "LicenceCheck": "licences",
    "LicenceError": "licences",
    "LicenceNotFoundError": "licences",
    "LicenceProtocolError": "licences",
    "LicenceProvider": "licences",
    "LicenceRejectedError": "licences",
    "LicenceRequest": "licences",
    "LicenceTimeoutError": "licences",
    "LicenceUnavailableError": "licences",
    "Missing": "tolerance",
    "NoProvider": "licences",
    "NoProviderError": "licences",
    "OutboxEvent": "supervision",
    "Rectification": "reviews",
    "Review": "reviews",
    "ReviewSummary": "reviews",
    "SimulatedClock": "engine",
    "SupervisionReport": "efficiency",
    "SweepResult": "sweeper",
    "Tolerance": "tolerance",
}

if _TYPE_CHECKING:
    from .commitments import Commitment, CreditRecord
    from .efficiency import SupervisionReport
    from .engine import Engine, SimulatedClock
    from .licences import (
        HttpLicenceProvider,
        Licence,
        LicenceCheck,
        LicenceError,
        LicenceNotFoundError,
        LicenceProtocolError,
        LicenceProvider,
        LicenceRejectedError,
        LicenceRequest,
        LicenceTimeoutError,
        LicenceUnavailableError,
        NoProvider,
        NoProviderError,
    )
    from .reviews import Rectification, Review, ReviewSummary
    from .supervision import Card, CardTransition, Issued, OutboxEvent
    from .sweeper import BatchReport, SweepResult
    from .tolerance import CaseMaterials, Missing, Tolerance


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hennan_flow' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
