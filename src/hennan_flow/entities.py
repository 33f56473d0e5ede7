"""What the engine hands back to portals: plain frozen records, JSON-ready through `as_dict`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from .clock.instants import local_iso

__all__ = ["Case", "Deployment", "Event", "Issued", "IssuedDoc", "Task"]


@dataclass(frozen=True)
class Deployment:
    """One bundle after `deploy`: the version a new case will use."""

    key: str
    version: int
    content_hash: str
    name: str
    file: str
    created: bool  # False when the same content was already deployed

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "content_hash": self.content_hash,
            "name": self.name,
            "file": self.file,
            "created": self.created,
        }


@dataclass(frozen=True)
class Event:
    """One entry of a case's timeline (the audit log): who did what, when."""

    at: datetime
    type: str
    step: str | None = None
    actor: str | None = None
    task: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    role: str | None = None  # the role the actor acted in (DESIGN §8)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": local_iso(self.at),
            "type": self.type,
            "step": self.step,
            "actor": self.actor,
            "role": self.role,
        }
        if self.task:
            out["task"] = self.task
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Task:
    """A user step instance in a department's work queue."""

    id: str
    case: str
    step: str
    name: str
    department: str | None
    state: str  # ready | paused | completed | cancelled
    ready_at: datetime
    ended_at: datetime | None = None
    actor: str | None = None
    deadlines: dict[str, Any] | None = None
    # on the Task `complete_task` returns: the steps this completion made ready, so a portal can
    # show the applicant what comes next without reading the queue again
    ready: tuple[Task, ...] = ()
    # a paused step's open pause: reason, kind, note, the 一次性告知 (notice, materials), started,
    # limit_at (when a special procedure's or suspension's limit passes), overrun
    pause: dict[str, Any] | None = None
    assignee: str | None = None  # the user who claimed it or was assigned it (DESIGN §8)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "case": self.case,
            "step": self.step,
            "name": self.name,
            "department": self.department,
            "state": self.state,
            "ready_at": local_iso(self.ready_at),
            "ended_at": local_iso(self.ended_at),
            "actor": self.actor,
            "assignee": self.assignee,
        }
        if self.deadlines is not None:
            out["deadlines"] = self.deadlines
        if self.ready:
            out["ready"] = [t.as_dict() for t in self.ready]
        if self.pause is not None:
            out["pause"] = self.pause
        return out


@dataclass(frozen=True)
class Case:
    """A case (办件) of a bundle, with its timeline."""

    id: str
    key: str
    version: int
    state: str  # open | completed | terminated | refused | withdrawn
    started_at: datetime
    ended_at: datetime | None = None
    events: tuple[Event, ...] = ()
    data: dict[str, Any] | None = None
    deadlines: dict[str, Any] | None = None
    ready: tuple[Task, ...] = ()  # on the Case `start_case` returns: its first ready steps
    outcomes: tuple[dict[str, Any], ...] = ()
    """Its refusal or withdrawal and its returns (退回), oldest first, with their reasons (engine/outcomes.py)."""

    @property
    def outcome(self) -> dict[str, Any] | None:
        """How a refused or withdrawn case ended (a refusal at the decision stage: with the remedy)."""
        ends = [o for o in self.outcomes if o["kind"] == self.state]
        return ends[-1] if ends else None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "version": self.version,
            "state": self.state,
            "started_at": local_iso(self.started_at),
            "ended_at": local_iso(self.ended_at),
            "events": [e.as_dict() for e in self.events],
        }
        if self.deadlines is not None:
            out["deadlines"] = self.deadlines
        if self.ready:
            out["ready"] = [t.as_dict() for t in self.ready]
        if self.outcome is not None:
            out["outcome"] = self.outcome
        returns = [o for o in self.outcomes if o["kind"] == "returned"]
        if returns:
            out["returns"] = returns
        return out


class IssuedDoc(TypedDict):
    case: str
    scope: str
    step: str | None
    task: str | None
    kind: str
    name: str
    trigger: str
    at: str | None


@dataclass(frozen=True)
class Issued:
    """A signal or card that fired, stamped with its due instant (`at`), as `sla sweep` reports it.

    `kind` is signal (notice, yellow_light), card (yellow, red) or action (a service deadline that
    acts on its case); `card` is the new card's id.
    """

    case: str
    scope: str  # step | case | verify | review
    step: str | None
    task: str | None
    kind: str  # signal | card | action
    name: str  # notice | yellow_light | yellow | red | supplement
    trigger: str
    at: datetime
    signal_id: int
    card: str | None = None

    def as_dict(self) -> IssuedDoc:
        return {
            "case": self.case,
            "scope": self.scope,
            "step": self.step,
            "task": self.task,
            "kind": self.kind,
            "name": self.name,
            "trigger": self.trigger,
            "at": local_iso(self.at),
        }
