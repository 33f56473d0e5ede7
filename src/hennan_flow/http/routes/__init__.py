"""The service's routers, one concept per module."""

from __future__ import annotations

from .system import router as system

__all__ = ["ROUTERS"]

ROUTERS = (system,)
