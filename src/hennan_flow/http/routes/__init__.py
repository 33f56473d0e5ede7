"""The service's routers, one concept per module."""

from __future__ import annotations

from .cards import router as cards
from .cases import router as cases
from .definitions import router as definitions
from .events import router as events
from .reports import router as reports
from .services import router as services
from .system import router as system
from .tasks import router as tasks

__all__ = ["ROUTERS"]

ROUTERS = (system, definitions, cases, tasks, cards, services, events, reports)
