"""BPMN timers that read the engine's clock instead of `datetime.now`.

SpiffWorkflow's timer event definitions call `datetime.now(timezone.utc)` directly and read naive
instants in the host's time zone (spiffworkflow-notes §3). We subclass them (never patch the
module: two engines with different clocks must coexist in one process): each asks the script
engine of its workflow for `now()`, and naive instants are Asia/Shanghai. Timer expressions are
designer expressions like any other, so they go through the sandbox and may call `workdays(n)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import EventDefinitionParser
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from ..clock.instants import SHANGHAI
from ..errors import CalendarRangeError, HennanFlowError
from .sandbox import expression_failed

__all__ = ["TIMER_CLASSES", "HfCycleTimer", "HfDurationTimer", "HfTimeDateTimer", "timer_parser"]


def _now(task: Any) -> datetime:
    clock: Callable[[], datetime] | None = getattr(task.workflow.top_workflow.script_engine, "now", None)
    return clock() if clock is not None else datetime.now(UTC)


def instant(text: str) -> datetime:
    """An ISO instant as aware UTC; naive values are Asia/Shanghai, never the host's zone."""
    value = datetime.fromisoformat(str(text).strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def _time_or_duration(text: str) -> Any:
    if text.upper().startswith("P"):
        return TimerEventDefinition.parse_iso_duration(text)
    if "W" in text.upper():
        return TimerEventDefinition.parse_iso_week(text)
    return instant(text)


_TIMER_HINT = (
    'a timer expression gives an instant (workdays(5), "2026-03-02T09:00:00"), a duration ("P5D") '
    'or a cycle ("R3/PT1H")'
)


def _timer_value(my_task: Any, expression: str, convert: Callable[[Any], Any], what: str) -> Any:
    """Evaluate a timer expression (in the sandbox) and convert its value; a wrong value names the element."""
    value = my_task.workflow.script_engine.evaluate(my_task, expression)
    try:
        return convert(value)
    except HennanFlowError:
        raise
    except Exception as exc:  # the seam: SpiffWorkflow's parsers raise bare Exception, datetime ValueError
        spec = my_task.task_spec
        why = f"{what}, not this value ({type(exc).__name__})"
        raise expression_failed(why, expression, spec.bpmn_id or spec.name, hint=_TIMER_HINT) from None


class HfTimeDateTimer(TimeDateEventDefinition):  # type: ignore[misc]
    """`timeDate`: an instant (e.g. `workdays(5)`), compared with the engine's clock.

    When the calendar does not reach the instant yet, the timer stays pending (not fired, no due
    instant) and is computed again once a calendar override arrives; it is never guessed.
    """

    def has_fired(self, my_task: Any) -> bool:
        value = my_task._get_internal_data("event_value")
        if value is None:
            try:
                value = _timer_value(
                    my_task, self.expression, lambda v: instant(v).isoformat(), "timeDate needs an instant"
                )
            except CalendarRangeError:
                return False
            my_task._set_internal_data(event_value=value)
        if instant(value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class HfDurationTimer(DurationTimerEventDefinition):  # type: ignore[misc]
    """`timeDuration`: an ISO duration from the instant the timer starts waiting."""

    def has_fired(self, my_task: Any) -> bool:
        value = my_task._get_internal_data("event_value")
        if value is None:
            start = _now(my_task)

            def due(duration: Any) -> str:
                parsed = TimerEventDefinition.parse_iso_duration(str(duration))
                delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, start)
                return (start + delta).isoformat()

            value = _timer_value(my_task, self.expression, due, "timeDuration needs an ISO-8601 duration")
            my_task._set_internal_data(event_value=value)
        if instant(value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class HfCycleTimer(CycleTimerEventDefinition):  # type: ignore[misc]
    """`timeCycle`: R<n>/<start>/<duration> repetitions, on the engine's clock."""

    def cycle_complete(self, my_task: Any) -> bool:
        now = _now(my_task)
        value = my_task._get_internal_data("event_value")
        if value is None:
            cycles, start, duration = _timer_value(
                my_task,
                self.expression,
                lambda v: self._parse(str(v), now),
                "timeCycle needs R<n>/…/<duration>",
            )
            value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if value["cycles"] != 0:
            nxt = instant(value["next"])
            if nxt <= now:
                value["next"] = (nxt + timedelta(seconds=value["duration"])).isoformat()
                value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=value)
        return ready

    @staticmethod
    def _parse(expression: str, now: datetime) -> tuple[int, datetime, timedelta]:
        parts = expression.upper().replace("--", "/").strip("R").split("/")
        cycles = int(parts[0]) if parts[0] else -1
        first = _time_or_duration(parts[1])
        second = _time_or_duration(parts[2]) if len(parts) == 3 else None
        if isinstance(first, datetime):
            return cycles, first, TimerEventDefinition.get_timedelta_from_start(second, first)
        if isinstance(second, datetime):
            duration = TimerEventDefinition.get_timedelta_from_end(first, second)
            return cycles, second - duration, duration
        if second is None:
            duration = TimerEventDefinition.get_timedelta_from_start(first, now)
            return cycles, now + duration, duration
        raise ValueError("invalid recurring interval")

    def update_task(self, my_task: Any) -> None:
        if self.cycle_complete(my_task):
            for output in my_task.task_spec.outputs:
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
                child.task_spec._update(child)


TIMER_CLASSES: dict[type[Any], type[Any]] = {
    TimeDateEventDefinition: HfTimeDateTimer,
    DurationTimerEventDefinition: HfDurationTimer,
    CycleTimerEventDefinition: HfCycleTimer,
}


class _TimerParserMixin:
    def parse_timer_event(self, event: Any) -> Any:
        parsed = super().parse_timer_event(event)  # type: ignore[misc]
        cls = TIMER_CLASSES.get(type(parsed))
        if cls is None:
            return parsed
        return cls(parsed.name, parsed.expression, description=parsed.description)


def timer_parser(parser_class: type[Any]) -> type[Any]:
    """The event parser `parser_class` with clock-injected timers (other parsers unchanged)."""
    if not issubclass(parser_class, EventDefinitionParser):
        return parser_class
    return type(f"Hf{parser_class.__name__}", (_TimerParserMixin, parser_class), {})
