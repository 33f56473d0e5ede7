"""BPMN timers that read the engine's clock instead of `datetime.now`.

SpiffWorkflow's timer event definitions call `datetime.now(timezone.utc)` directly and read naive
instants in the host's time zone (spiffworkflow-notes §3). We subclass them (never patch the
module: two engines with different clocks must coexist in one process): each asks the script
engine of its workflow for `now()`, and naive instants are Asia/Shanghai. Timer expressions are
designer expressions like any other, so they go through the sandbox and may call `workdays(n)`.

A timer need not be the only event its task waits for: an event-based gateway (and an event with
several definitions) holds a `MultipleEventDefinition` whose timers SpiffWorkflow evaluates on the
gateway's task. Each such timer keeps its value under a key of its own (`event_value@<i>`, its
place among the definitions), so two timers of one gateway never read each other's due instant, and
`due_instant` finds every pending timer of a waiting task for the sweeper's index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import EventDefinitionParser
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
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

__all__ = [
    "TIMER_CLASSES",
    "TIMER_TAGS",
    "HfCycleTimer",
    "HfDurationTimer",
    "HfTimeDateTimer",
    "due_instant",
    "iso_literal",
    "timer_parser",
    "timer_value_error",
]


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


# -- ISO-8601 literals ----------------------------------------------------------------------------
#
# Camunda and Flowable models write timers as the standard writes them, unquoted: PT1H, P7D, R/PT1H,
# R6/P1D, 2026-12-07T09:00:00+08:00. SpiffWorkflow evaluates the text as Python (so PT1H is read as a
# variable name). Text that looks like an ISO-8601 value of its kind is taken as that literal;
# anything else stays an expression.

TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")
_LOOKS = {
    "duration": re.compile(r"^P(?:T?\d|T$)", re.IGNORECASE),
    "cycle": re.compile(r"^R\d*/", re.IGNORECASE),
    "instant": re.compile(r"^\d{4}-\d{2}-\d{2}"),
}
_KIND_OF_TAG = {"timeDate": "instant", "timeDuration": "duration", "timeCycle": "cycle"}
_KIND_NAMES = {"instant": "a date-time", "duration": "a duration", "cycle": "a repeating interval"}


def _looks(text: str) -> str | None:
    for kind, pattern in _LOOKS.items():
        if pattern.match(text):
            return kind
    return None


def timer_value_error(tag: str, value: Any) -> str | None:
    """Why `value` cannot be the value of a `tag` timer (None: it can)."""
    kind = _KIND_OF_TAG[tag]
    if not isinstance(value, str):
        return f"{tag} needs {_KIND_NAMES[kind]} as text, not a {type(value).__name__}"
    text = value.strip()
    try:
        if kind == "duration":
            TimerEventDefinition.parse_iso_duration(text)
            if not _LOOKS["duration"].match(text):
                raise ValueError(text)
        elif kind == "cycle":
            HfCycleTimer._parse(text, datetime(2000, 1, 1, tzinfo=UTC))
        else:
            instant(text)
    except Exception:  # the seam: SpiffWorkflow's ISO parsers raise bare Exception
        return f"{text!r} is not {_KIND_NAMES[kind]} in ISO-8601 form, as {tag} needs"
    return None


def iso_literal(text: str, tag: str) -> str | None:
    """The quoted literal for an unquoted ISO-8601 value in a `tag` timer (None: not ISO-looking).

    ValueError when the text looks like an ISO-8601 value but is not a valid one of the tag's kind.
    """
    stripped = text.strip()
    looks = _looks(stripped)
    if looks is None:
        return None
    if looks != _KIND_OF_TAG[tag]:
        raise ValueError(
            f"{stripped!r} looks like {_KIND_NAMES[looks]}; {tag} needs {_KIND_NAMES[_KIND_OF_TAG[tag]]}"
        )
    why = timer_value_error(tag, stripped)
    if why is not None:
        raise ValueError(why)
    return repr(stripped)


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


def _slot(definition: Any, my_task: Any) -> str:
    """The suffix of this timer's internal-data keys on `my_task`: "" when the timer is the task's own
    event, `@<i>` when it is the i-th definition of the task's MultipleEventDefinition."""
    owner = my_task.task_spec.event_definition
    if owner is definition:
        return ""
    for index, item in enumerate(getattr(owner, "event_definitions", ())):
        if item is definition:
            return f"@{index}"
    return ""


class _SlotData:
    """A timer's internal data on its task, under the keys of its slot."""

    def __init__(self, definition: Any, my_task: Any) -> None:
        suffix = _slot(definition, my_task)
        self.task = my_task
        self.own = not suffix  # the task's own event, not one of several
        self.value_key = "event_value" + suffix
        self.fired_key = "event_fired" + suffix

    @property
    def value(self) -> Any:
        return self.task._get_internal_data(self.value_key)

    @value.setter
    def value(self, value: Any) -> None:
        self.task._set_internal_data(**{self.value_key: value})

    def fire(self) -> None:
        self.task._set_internal_data(**{self.fired_key: True})

    @property
    def fired(self) -> bool:
        return bool(self.task._get_internal_data(self.fired_key, False))


class _SameTimer:
    """Timers are equal when kind, name *and* expression are (SpiffWorkflow compares kind and name).

    An event-based gateway finds the branch of a fired event by equality, and two of its timers
    may share a name (the catch events' names, "超时"): by name alone, the first one's branch would
    be taken whichever timer fired. A timer restored from a stored state is a new object, so
    identity will not do either.
    """

    name: str
    expression: str

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.name == getattr(other, "name", None)
            and self.expression == getattr(other, "expression", None)
        )

    __hash__ = None  # type: ignore[assignment]


class HfTimeDateTimer(_SameTimer, TimeDateEventDefinition):  # type: ignore[misc]
    """`timeDate`: an instant (e.g. `workdays(5)`), compared with the engine's clock.

    When the calendar does not reach the instant yet, the timer stays pending (not fired, no due
    instant) and is computed again once a calendar override arrives; it is never guessed.
    """

    def has_fired(self, my_task: Any) -> bool:
        slot = _SlotData(self, my_task)
        value = slot.value
        if value is None:
            try:
                value = _timer_value(
                    my_task, self.expression, lambda v: instant(v).isoformat(), "timeDate needs an instant"
                )
            except CalendarRangeError:
                return False
            slot.value = value
        if instant(value) <= _now(my_task):
            slot.fire()
        return slot.fired


class HfDurationTimer(_SameTimer, DurationTimerEventDefinition):  # type: ignore[misc]
    """`timeDuration`: an ISO duration from the instant the timer starts waiting."""

    def has_fired(self, my_task: Any) -> bool:
        slot = _SlotData(self, my_task)
        value = slot.value
        if value is None:
            start = _now(my_task)

            def due(duration: Any) -> str:
                parsed = TimerEventDefinition.parse_iso_duration(str(duration))
                delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, start)
                return (start + delta).isoformat()

            value = _timer_value(my_task, self.expression, due, "timeDuration needs an ISO-8601 duration")
            slot.value = value
        if instant(value) <= _now(my_task):
            slot.fire()
        return slot.fired


class HfCycleTimer(_SameTimer, CycleTimerEventDefinition):  # type: ignore[misc]
    """`timeCycle`: R<n>/<start>/<duration> repetitions, on the engine's clock.

    On its own event (a boundary or catch event) every repetition fires it (`update_task`); as one
    of several events a task waits for (an event-based gateway) its first repetition does.
    """

    def _first(self, my_task: Any, now: datetime) -> dict[str, Any]:
        cycles, start, duration = _timer_value(
            my_task,
            self.expression,
            lambda v: self._parse(str(v), now),
            "timeCycle needs R<n>/…/<duration>",
        )
        return {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}

    def has_fired(self, my_task: Any) -> bool:
        slot = _SlotData(self, my_task)
        if slot.own:
            return bool(super().has_fired(my_task))
        now = _now(my_task)
        value = slot.value
        if value is None:
            value = slot.value = self._first(my_task, now)
        if value["cycles"] != 0 and instant(value["next"]) <= now:
            slot.fire()
        return slot.fired

    def cycle_complete(self, my_task: Any) -> bool:
        now = _now(my_task)
        value = my_task._get_internal_data("event_value")
        if value is None:
            value = self._first(my_task, now)
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


def due_instant(task: Any) -> datetime | None:
    """The earliest instant a timer `task` waits for comes due (None: no timer, or not known yet).

    `task` is a waiting event task: a timer event, or one whose MultipleEventDefinition (an
    event-based gateway, an event with several definitions) holds timers; timers already seen
    (a parallel multiple event waiting for its other events) are left out.
    """
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        seen = [event.event_definition for event in task.internal_data.get("seen_events", [])]
        timers = [d for d in definition.event_definitions if d not in seen]
    else:
        timers = [definition]
    due: list[datetime] = []
    for timer in timers:
        if not isinstance(timer, (HfTimeDateTimer, HfDurationTimer, HfCycleTimer)):
            continue
        slot = _SlotData(timer, task)
        value = slot.value
        if isinstance(value, dict):  # a cycle: its next repetition, while repetitions remain
            value = value.get("next") if value.get("cycles") != 0 else None
        if value is None or (slot.fired and not slot.own):
            continue
        try:
            due.append(instant(value))
        except (TypeError, ValueError):
            continue
    return min(due) if due else None


TIMER_CLASSES: dict[type[Any], type[Any]] = {
    TimeDateEventDefinition: HfTimeDateTimer,
    DurationTimerEventDefinition: HfDurationTimer,
    CycleTimerEventDefinition: HfCycleTimer,
}


class _TimerParserMixin:
    def parse_timer_event(self, event: Any) -> Any:
        parsed = super().parse_timer_event(event)  # type: ignore[misc]
        if type(parsed) not in TIMER_CLASSES:
            return parsed
        # SpiffWorkflow reads the first timer expression of the whole event element, so every timer
        # of an event with several definitions got the first one's: read this definition's own
        for local, cls in _TIMER_TAGS:
            found = event.find(f"{{{_BPMN_NS}}}{local}")
            if found is not None:
                return cls(parsed.name, found.text, description=parsed.description)
        return TIMER_CLASSES[type(parsed)](parsed.name, parsed.expression, description=parsed.description)


_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_TIMER_TAGS = (("timeDate", HfTimeDateTimer), ("timeDuration", HfDurationTimer), ("timeCycle", HfCycleTimer))


def timer_parser(parser_class: type[Any]) -> type[Any]:
    """The event parser `parser_class` with clock-injected timers (other parsers unchanged)."""
    if not issubclass(parser_class, EventDefinitionParser):
        return parser_class
    return type(f"Hf{parser_class.__name__}", (_TimerParserMixin, parser_class), {})
