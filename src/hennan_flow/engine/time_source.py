"""The engine's time source: real UTC time, or simulated time on a simulation database.

`Engine(clock=…)` takes a fixed instant or a callable such as a `SimulatedClock`; either is refused
unless the database carries the simulation mark, so a production database can never be backdated
to dodge a red card (DESIGN §6). (The statutory clock itself — working days, deadlines, signals — is
the `clock` package; this module only says what time it is.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..clock.instants import as_utc
from ..errors import SimulationError

__all__ = ["SimulatedClock", "TimeSource"]


class SimulatedClock:
    """A clock for simulation databases: starts at an instant, moves only when told."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = as_utc(instant)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class TimeSource:
    """What time it is for one engine: `datetime.now(UTC)`, or the simulated instant once the
    database has been seen to be a simulation database (`is_simulation`, asked once)."""

    def __init__(
        self, clock: datetime | Callable[[], datetime] | None, *, is_simulation: Callable[[], bool]
    ) -> None:
        if isinstance(clock, datetime):
            fixed = as_utc(clock)
            self._source: Callable[[], datetime] | None = lambda: fixed
        else:
            self._source = clock
        self._is_simulation = is_simulation
        self._checked = False

    @property
    def simulated(self) -> bool:
        return self._source is not None

    def now(self) -> datetime:
        if self._source is None:
            return datetime.now(UTC)
        if not self._checked:
            if not self._is_simulation():
                raise SimulationError(
                    "非模拟数据库不接受模拟时间（--now / clock=）",
                    hint="创建模拟数据库（须为空数据库）：hennan-flow db upgrade --simulation",
                )
            self._checked = True
        return as_utc(self._source())
