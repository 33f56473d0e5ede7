"""The engine portals embed (see `facade.Engine`)."""

from .facade import Engine, SimulatedClock

__all__ = ["Engine", "SimulatedClock"]
