"""Bounded pauses (DESIGN §7): what a pause must say, its limit, its overrun and the 未一次告知 card.

- **特别程序 special_procedure** names one of the step's declared `hf:specialProcedure` kinds; only up
  to that kind's limit is left out of the step's (and the case's) limits. When the limit passes while
  the step is still paused, a `special_procedure_overrun` signal fires (an `hf_signal` row, swept like
  every other, exactly once) and from then on the time counts: the step's clock runs again as if the
  pause had ended at its limit (`on_fired`), although the step stays paused.
- **挂起 suspended** needs a note; past the county's suspend limit (`SUSPEND_LIMIT` working days unless
  the directory's `[supervision] suspend_limit` says otherwise) a `suspension_overrun` signal fires.
- **补正 supplement** carries its 一次性告知 (what must be corrected: a text and/or the step's
  material ids); a second supplement of the same step instance is allowed but issues a yellow card
  with signal `repeated_supplement` (未一次告知, 行政许可法 §32(四)), once per step instance.

A pause ends however its step ends (`close`): an overrun signal already due fires at its instant,
one not yet due is cancelled. The step's clock arithmetic (`clock.deadlines.counted_pause`) caps a
special procedure at its `limit_at`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from ..bpmn.bundle import SpecialProcedure, Step
from ..clock.instants import SHANGHAI, as_utc, local_date, local_iso
from ..clock.workdays import WorkCalendar
from ..db.models import DeadlineRow, PauseRow, SignalRow, TaskRow
from ..db.transaction import Tx
from ..errors import CalendarRangeError, InputError
from ..limits import check_id, check_text
from .context import EngineContext

__all__ = [
    "MAX_MATERIALS",
    "OVERRUN_TRIGGERS",
    "SUSPEND_LIMIT",
    "PauseRequest",
    "check_request",
    "close",
    "describe",
    "on_fired",
    "open_",
]

SUSPEND_LIMIT = 20  # working days (DESIGN §7), the default of the directory's [supervision] suspend_limit
MAX_MATERIALS = 100  # material ids one 一次性告知 may list
OVERRUN_TRIGGERS = {"special_procedure": "special_procedure_overrun", "suspended": "suspension_overrun"}
REPEATED_SUPPLEMENT = "repeated_supplement"
_CARD_NAMESPACE = uuid.UUID("6b1f3c0e-2f55-4d8e-9a7c-1d20c7a4e020")


@dataclass(frozen=True)
class PauseRequest:
    """A checked pause: its reason and what that reason must carry."""

    reason: str
    kind: str | None = None
    note: str | None = None
    notice: str | None = None
    materials: tuple[str, ...] = ()
    procedure: SpecialProcedure | None = None


def check_request(
    step: Step | None,
    step_id: str,
    *,
    reason: str,
    kind: str | None,
    note: str | None,
    notice: str | None,
    materials: Sequence[str],
) -> PauseRequest:
    """What this pause request must carry, checked against the step's declarations (InputError: exit 2)."""
    if kind is not None and reason != "special_procedure":
        raise InputError("--kind 用于指明特别程序", hint="与 --reason special_procedure 一起使用")
    if (notice is not None or materials) and reason != "supplement":
        raise InputError(
            "--notice 和 --material 是补正的一次性告知",
            hint="与 --reason supplement 一起使用",
        )
    procedure = None
    if reason == "special_procedure":
        declared = step.special_procedures if step is not None else ()
        if not declared:
            raise InputError(
                f"环节 {step_id!r} 没有声明特别程序（hf:specialProcedure），不能因特别程序暂停",
                hint="在事项包中为该环节声明特别程序及其时限，或以其他原因暂停",
            )
        kinds = [p.kind for p in declared]
        if kind is None or kind not in kinds:
            what = "须指明 --kind" if kind is None else f"没有特别程序 {kind!r}"
            raise InputError(
                f"环节 {step_id!r} {what}；已声明的种类：{'、'.join(kinds)}",
                hint=f"暂停时传入 --kind {kinds[0]}",
            )
        procedure = next(p for p in declared if p.kind == kind)
    if note is not None:
        note = check_text(note, "暂停说明")
    if reason == "suspended" and not (note or "").strip():
        raise InputError("挂起须用 --note 写明原因", hint='加上 --note "…"')
    if notice is not None:
        notice = check_text(notice, "补正告知")
    checked = tuple(dict.fromkeys(check_id(m, "材料编号") for m in materials))
    if len(checked) > MAX_MATERIALS:
        raise InputError(f"一次告知最多 {MAX_MATERIALS} 项材料，收到 {len(checked)} 项")
    if checked:
        known = [m.id for m in step.materials] if step is not None else []
        unknown = [m for m in checked if m not in known]
        if unknown:
            raise InputError(
                f"{'、'.join(map(repr, unknown))} 不是环节 {step_id!r} 的材料",
                hint=f"该环节的材料：{'、'.join(known)}" if known else "该环节没有声明材料",
            )
    return PauseRequest(reason, kind, note, notice, checked, procedure)


def open_(
    ctx: EngineContext, tx: Tx, row: TaskRow, request: PauseRequest, now: datetime, actor: str | None
) -> PauseRow:
    """Store the pause of a ready step (the caller pauses its clocks), its limit and overrun signal;
    a second supplement of this step instance issues its 未一次告知 yellow card."""
    session = tx.session
    supplements_before = 0
    if request.reason == "supplement":
        supplements_before = (
            session.scalar(
                select(func.count())
                .select_from(PauseRow)
                .where(PauseRow.task_id == row.id, PauseRow.reason == "supplement")
            )
            or 0
        )
    pause = PauseRow(
        case_id=row.case_id,
        task_id=row.id,
        reason=request.reason,
        kind=request.kind,
        note=request.note,
        notice=request.notice,
        materials=json.dumps(list(request.materials), ensure_ascii=False) if request.materials else None,
        started_at=now,
        started_by=actor,
    )
    session.add(pause)
    limit = _limit(request)
    if limit is not None:
        pause.limit_at = _limit_instant(ctx.calendar(tx), now, *limit)
    if pause.limit_at is not None:
        signal = _signal(row, name="overrun", kind="signal", trigger=OVERRUN_TRIGGERS[request.reason])
        signal.deadline_id, signal.due_at = str(uuid.uuid4()), pause.limit_at
        session.add(signal)
        session.flush()
        pause.overrun_signal_id = signal.id
    if supplements_before == 1:  # the second: 未一次告知 (a third issues nothing more)
        card = _signal(row, name="yellow", kind="card", trigger=REPEATED_SUPPLEMENT)
        # the card's own identity (one per step instance), apart from the step's promised-deadline card
        card.deadline_id = str(uuid.uuid5(_CARD_NAMESPACE, f"{row.id}/{REPEATED_SUPPLEMENT}"))
        card.due_at = now
        session.add(card)
        session.flush()
        ctx.deadlines.fire(tx, card, now)
    session.flush()
    return pause


def close(ctx: EngineContext, tx: Tx, pause: PauseRow, at: datetime, actor: str | None) -> None:
    """A pause ends at `at` (resumed, or its step ended): its overrun signal fires if already due,
    else it never will."""
    pause.ended_at, pause.ended_by = at, actor
    if pause.overrun_signal_id is None:
        return
    session = tx.session
    signal = session.get(SignalRow, pause.overrun_signal_id)
    if signal is None or signal.state not in {"pending", "claimed"}:
        return
    if pause.limit_at is not None and as_utc(pause.limit_at) < at:
        ctx.deadlines.fire(tx, signal, at)
        if pause.reason == "special_procedure":
            pause.overrun_at = at
        return
    session.execute(
        update(SignalRow)
        .where(SignalRow.id == signal.id, SignalRow.state.in_(("pending", "claimed")))
        .values(state="cancelled", rev=SignalRow.rev + 1)
    )
    session.expire(signal)


def on_fired(
    ctx: EngineContext,
    tx: Tx,
    signals: Sequence[SignalRow],
    now: datetime,
    *,
    resume_case_clock: Callable[[EngineContext, Tx, str], None],
) -> None:
    """Swept overrun signals that fired: a special procedure past its limit counts again from it
    (`resume_case_clock`: the lifecycle's, which closes pauses through this module)."""
    ids = [s.id for s in signals if s.trigger == OVERRUN_TRIGGERS["special_procedure"] and s.state == "fired"]
    if not ids:
        return
    session = tx.session
    for pause in session.scalars(
        select(PauseRow).where(PauseRow.overrun_signal_id.in_(ids), PauseRow.ended_at.is_(None))
    ).all():
        pause.overrun_at = now
        session.flush()
        deadline = session.get(DeadlineRow, pause.task_id)
        if deadline is not None and deadline.paused_since is not None and deadline.closed_at is None:
            ctx.deadlines.resume(tx, deadline)
        resume_case_clock(ctx, tx, pause.case_id)
        tx.journal.record(
            "task.pause_overrun",
            case=pause.case_id,
            task=pause.task_id,
            at=now,
            detail={
                "reason": pause.reason,
                "kind": pause.kind,
                "limit_at": local_iso(as_utc(pause.limit_at)),
            },
        )


def describe(pause: PauseRow | None) -> dict[str, Any] | None:
    """An open pause as portals see it (`Task.pause`)."""
    if pause is None:
        return None
    return {
        "reason": pause.reason,
        "kind": pause.kind,
        "note": pause.note,
        "notice": pause.notice,
        "materials": json.loads(pause.materials) if pause.materials else [],
        "started_at": local_iso(as_utc(pause.started_at)),
        "started_by": pause.started_by,
        "limit_at": local_iso(as_utc(pause.limit_at)),
        "overrun": pause.overrun_at is not None,
    }


def _limit(request: PauseRequest) -> tuple[int, str] | None:
    if request.procedure is not None:
        return request.procedure.limit, request.procedure.unit
    if request.reason == "suspended":
        return SUSPEND_LIMIT, "workday"
    return None


def _limit_instant(cal: WorkCalendar, start: datetime, n: int, unit: str) -> datetime | None:
    """When a pause started at `start` has left out `n` days (the start of the first day past them),
    as `clock.arithmetic.paused_workdays` counts them; None past the calendar data."""
    day = local_date(start)
    if unit == "natural_day":
        end = day + timedelta(days=n)
    else:
        try:
            end, counted = day, 0
            while counted < n:
                counted += 1 if cal.is_workday(end) else 0
                end += timedelta(days=1)
        except CalendarRangeError:
            return None
    return datetime(end.year, end.month, end.day, tzinfo=SHANGHAI).astimezone(UTC)


def _signal(row: TaskRow, *, name: str, kind: str, trigger: str) -> SignalRow:
    return SignalRow(
        case_id=row.case_id,
        task_id=row.id,
        scope="step",
        step=row.step,
        name=name,
        kind=kind,
        trigger=trigger,
        state="pending",
        rev=0,
    )
