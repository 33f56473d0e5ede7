"""hennan_flow: run county 一件事一次办 service bundles as BPMN.

The public API is what `__all__` lists; everything else is internal. The engine (and with it
SQLAlchemy and SpiffWorkflow) is imported on first use, so `validate` and `audit` start light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .bpmn.bundle import Bundle, Department, LegalBasis, Material, SpecialProcedure, Step, TimeLimit
from .clock.workdays import WorkCalendar
from .entities import Case, Deployment, Event, Issued, Task
from .errors import (
    BpmnError,
    CalendarRangeError,
    ConfigError,
    ConflictError,
    DeliveryError,
    ExpressionError,
    FieldError,
    FindingsError,
    FormDataError,
    HennanFlowError,
    InputError,
    Location,
    NotFoundError,
    PermissionDenied,
    SchemaOutOfDateError,
    SimulationError,
    StateError,
)

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
    "DeliveryError",
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
    "PermissionDenied",
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
    "BatchReport": "supervision.sweeper",
    "Card": "supervision.cards",
    "CardTransition": "supervision.cards",
    "CaseMaterials": "services.tolerance",
    "Commitment": "services.commitments",
    "CreditRecord": "services.commitments",
    "Engine": "engine",
    "HttpLicenceProvider": "services.licences",
    "Licence": "services.licences",
    "LicenceCheck": "services.licences",
    "LicenceError": "services.licences",
    "LicenceNotFoundError": "services.licences",
    "LicenceProtocolError": "services.licences",
    "LicenceProvider": "services.licences",
    "LicenceRejectedError": "services.licences",
    "LicenceRequest": "services.licences",
    "LicenceTimeoutError": "services.licences",
    "LicenceUnavailableError": "services.licences",
    "Missing": "services.tolerance",
    "NoProvider": "services.licences",
    "NoProviderError": "services.licences",
    "OutboxEvent": "supervision.cards",
    "Rectification": "services.reviews",
    "Review": "services.reviews",
    "ReviewSummary": "supervision.figures",
    "SimulatedClock": "engine",
    "SupervisionReport": "supervision.figures",
    "SweepResult": "supervision.sweeper",
    "Tolerance": "services.tolerance",
}

if _TYPE_CHECKING:
    from .engine.facade import Engine, SimulatedClock
    from .services.commitments import Commitment, CreditRecord
    from .services.licences import (
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
    from .services.reviews import Rectification, Review
    from .services.tolerance import CaseMaterials, Missing, Tolerance
    from .supervision.cards import Card, CardTransition, OutboxEvent
    from .supervision.figures import ReviewSummary, SupervisionReport
    from .supervision.sweeper import BatchReport, SweepResult


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hennan_flow' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
