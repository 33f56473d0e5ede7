"""The service's routers, one concept per module."""

from __future__ import annotations

from .cards import router as cards
from .cases import HOT as start_case
from .cases import router as cases
from .definitions import router as definitions
from .events import router as events
from .reports import router as reports
from .services import router as services
from .system import router as system
from .tasks import HOT as complete
from .tasks import router as tasks

__all__ = ["HOT", "ROUTERS"]

ROUTERS = (system, definitions, cases, tasks, cards, services, events, reports)
HOT = (complete, start_case)  # the requests a portal sends most: straight to their endpoint (hot.py)
