"""The statutory clock inside the engine: stored deadlines and signal instants of steps and cases.

When a step becomes ready (受理) its limits are copied from the bundle, its deadlines and signal
instants are computed with the working-day calendar (`clock.py`) and stored in indexed tables, so
the sweeper only reads due rows. Pauses (补正, 特别程序, 挂起) stop a step's clock and its signals;
extensions (延长审批) move its deadlines; a new calendar version recomputes every open deadline.
Where the calendar does not reach far enough the deadline is stored as pending and computed as soon
as data arrives. Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .bundle import TimeLimit
from .clock import Schedule, paused_workdays, paused_workdays_union, shift, step_schedule
from .db.models import DeadlineRow, ExtensionRow, PauseRow, SignalRow
from .errors import CalendarRangeError
from .timeutil import SHANGHAI, as_utc, local_iso
from .workdays import WorkCalendar

__all__ = ["CASE_STOPPING_REASONS", "PAUSE_REASONS", "Clock"]

log = logging.getLogger(__name__)

PAUSE_REASONS = ("supplement", "special_procedure", "suspended")
CASE_STOPPING_REASONS = ("supplement", "special_procedure")  # DESIGN §4: the case clock stops for these

# schedule field → (signal name, kind, trigger)
_SIGNALS: dict[str, tuple[str, str, str]] = {
    "notice": ("notice", "signal", "notice_before"),
    "yellow_light": ("yellow_light", "signal", "yellow_light_at"),
    "yellow_card": ("yellow", "card", "promised_passed"),
    "red_card": ("red", "card", "overdue_workdays"),
}

Fire = Callable[[Session, SignalRow, datetime], None]


@dataclass
class Clock:
    """Deadline bookkeeping for one engine: its calendar, close of business and how signals fire."""

    calendar: Callable[[Session], WorkCalendar]
    fire: Fire
    close_of_business: time | None = None

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        session: Session,
        *,
        owner: str,
        case_id: str,
        task_id: str | None,
        scope: str,
        step: str | None,
        kind: str,
        limit: TimeLimit | None,
        accepted_at: datetime,
    ) -> DeadlineRow | None:
        """Store the deadlines and signals of a step instance or case; None when it has no limits."""
        if kind != "immediate" and limit is None:
            return None
        row = DeadlineRow(
            id=owner,
            case_id=case_id,
            task_id=task_id,
            scope=scope,
            step=step,
            kind=kind,
            unit=limit.unit if limit and kind != "immediate" else None,
            legal=limit.legal if limit and kind != "immediate" else None,
            promised=limit.promised if limit and kind != "immediate" else None,
            notice_before=limit.notice_before if limit else 1,
            yellow_light_at=repr(limit.yellow_light_at) if limit else "0.8",
            red_after=limit.red_after if limit and kind != "immediate" else 3,
            accepted_at=accepted_at,
            pending=False,
            shift_workdays=0,
        )
        session.add(row)
        self.recompute(session, row, fresh=True)
        return row

    def _limit(self, row: DeadlineRow) -> TimeLimit | None:
        if row.kind == "immediate" or row.unit is None:
            return None
        return TimeLimit(
            unit=row.unit,
            legal=row.legal,
            promised=row.promised,
            notice_before=row.notice_before,
            yellow_light_at=float(row.yellow_light_at),
            red_after=row.red_after,
        )

    def schedule(self, session: Session, row: DeadlineRow, *, fresh: bool = False) -> Schedule:
        """The current schedule of a deadline row: base schedule shifted by pauses and extensions."""
        cal = self.calendar(session)
        base = step_schedule(
            as_utc(row.accepted_at),
            self._limit(row),
            kind=row.kind,
            calendar=cal,
            close=self.close_of_business,
        )
        return base if fresh else shift(base, self._shift_of(session, row, cal), cal)

    def _shift_of(self, session: Session, row: DeadlineRow, cal: WorkCalendar) -> int:
        if row.scope == "case":
            intervals = [
                (as_utc(p.started_at), as_utc(p.ended_at))
                for p in session.scalars(
                    select(PauseRow).where(
                        PauseRow.case_id == row.case_id,
                        PauseRow.reason.in_(CASE_STOPPING_REASONS),
                        PauseRow.ended_at.is_not(None),
                    )
                )
                if p.ended_at is not None
            ]
            return paused_workdays_union(intervals, cal)
        paused = sum(
            paused_workdays(as_utc(p.started_at), as_utc(p.ended_at), cal)
            for p in session.scalars(
                select(PauseRow).where(PauseRow.task_id == row.id, PauseRow.ended_at.is_not(None))
            )
            if p.ended_at is not None
        )
        extended = sum(session.scalars(select(ExtensionRow.days).where(ExtensionRow.task_id == row.id)))
        return paused + extended

    def recompute(self, session: Session, row: DeadlineRow, *, fresh: bool = False) -> bool:
        """Compute (again) the row's deadlines and its unfired signals; False when still pending.

        `fresh`: the row was just created (no pauses, extensions or signals yet to read).
        """
        try:
            sched = self.schedule(session, row, fresh=fresh)
        except CalendarRangeError as exc:
            if not row.pending:
                log.warning(
                    "deadline pending (calendar data ends): case=%s owner=%s year=%s",
                    row.case_id,
                    row.id,
                    exc.year,
                )
            row.pending = True
            return False
        row.pending = False
        row.calendar_version = sched.calendar_version
        row.promised_due, row.legal_due = sched.promised_due, sched.legal_due
        existing: dict[str, SignalRow] = {}
        if not fresh:
            session.flush()
            existing = {
                s.name: s for s in session.scalars(select(SignalRow).where(SignalRow.deadline_id == row.id))
            }
        wanted: dict[str, tuple[datetime, str, str]] = {}
        for field, (name, kind, trigger) in _SIGNALS.items():
            at = getattr(sched, f"{field}_at")
            if at is None:
                continue
            if name == "red":
                trigger = sched.red_card_signal or trigger
            wanted[name] = (at, kind, trigger)
        paused = row.paused_since is not None
        for name, (at, kind, trigger) in wanted.items():
            sig = existing.get(name)
            if sig is None:
                session.add(
                    SignalRow(
                        deadline_id=row.id,
                        case_id=row.case_id,
                        task_id=row.task_id,
                        scope=row.scope,
                        step=row.step,
                        name=name,
                        kind=kind,
                        trigger=trigger,
                        due_at=at,
                        state="paused" if paused else "pending",
                        rev=0,
                    )
                )
            elif sig.state in {"pending", "paused"}:
                sig.due_at, sig.trigger = at, trigger
                sig.state = "paused" if paused else "pending"
                sig.rev += 1
        for name, sig in existing.items():
            if name not in wanted and sig.state in {"pending", "paused"}:
                sig.state = "cancelled"
                sig.rev += 1
        return True

    # -- pausing, extending ---------------------------------------------------------------
    def fire_due(self, session: Session, row: DeadlineRow, now: datetime) -> list[SignalRow]:
        """Fire what is already due (before a pause, an extension or a new calendar could move it)."""
        due = session.scalars(
            select(SignalRow)
            .where(
                SignalRow.deadline_id == row.id,
                SignalRow.state.in_(("pending", "claimed")),
                SignalRow.due_at <= now,
            )
            .order_by(SignalRow.due_at)
        ).all()
        for sig in due:
            self.fire(session, sig, now)
        return list(due)

    def pause(self, session: Session, row: DeadlineRow, now: datetime) -> None:
        self.fire_due(session, row, now)
        row.paused_since = now
        session.execute(
            update(SignalRow)
            .where(SignalRow.deadline_id == row.id, SignalRow.state == "pending")
            .values(state="paused", rev=SignalRow.rev + 1)
        )

    def resume(self, session: Session, row: DeadlineRow) -> None:
        row.paused_since = None
        self.recompute(session, row)

    # -- ending ---------------------------------------------------------------------------
    def close(self, session: Session, row: DeadlineRow, now: datetime) -> list[SignalRow]:
        """A step or case ended: its due signals fire now (at their instants), the rest are cancelled."""
        row.closed_at = now
        session.flush()
        fired = self.fire_due(session, row, now)
        session.execute(
            update(SignalRow)
            .where(SignalRow.deadline_id == row.id, SignalRow.state.in_(("pending", "paused", "claimed")))
            .values(state="cancelled", rev=SignalRow.rev + 1)
            .execution_options(synchronize_session=False)
        )
        return fired

    # -- reading --------------------------------------------------------------------------
    def views(self, session: Session, owners: Sequence[str], now: datetime) -> dict[str, dict[str, Any]]:
        """`view` for many steps at once (two queries, whatever their number)."""
        if not owners:
            return {}
        rows = session.scalars(select(DeadlineRow).where(DeadlineRow.id.in_(owners))).all()
        by_deadline: dict[str, list[SignalRow]] = {}
        for sig in session.scalars(
            select(SignalRow)
            .where(SignalRow.deadline_id.in_([r.id for r in rows]))
            .order_by(SignalRow.due_at)
        ):
            by_deadline.setdefault(sig.deadline_id, []).append(sig)
        return {r.id: self._view(session, r, by_deadline.get(r.id, []), now) for r in rows}

    def view(self, session: Session, row: DeadlineRow | None, now: datetime) -> dict[str, Any] | None:
        """Deadlines as portals show them; working days left is null outside the calendar data."""
        if row is None:
            return None
        signals = session.scalars(
            select(SignalRow).where(SignalRow.deadline_id == row.id).order_by(SignalRow.due_at)
        ).all()
        return self._view(session, row, signals, now)

    def _view(
        self, session: Session, row: DeadlineRow, signals: Sequence[SignalRow], now: datetime
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": row.kind,
            "unit": row.unit,
            "promised": row.promised,
            "legal": row.legal,
            "pending": row.pending,
            "paused": row.paused_since is not None,
            "promised_due": local_iso(row.promised_due),
            "legal_due": local_iso(row.legal_due),
            "workdays_left": None,
            "calendar": row.calendar_version,
        }
        if row.promised_due is not None and not row.pending:
            out["workdays_left"] = self.workdays_left(session, as_utc(row.promised_due), now)
        out["signals"] = [{"name": s.name, "at": local_iso(s.due_at), "state": s.state} for s in signals]
        return out

    def workdays_left(self, session: Session, due: datetime, now: datetime) -> int | None:
        cal = self.calendar(session)
        today = now.astimezone(SHANGHAI).date()
        # an end-of-day deadline at 24:00 is stored as the next day's 00:00: its day is the day before
        due_day = (due - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
        try:
            if due_day >= today:
                return cal.workdays_in(today, due_day) + (1 if cal.is_workday(due_day) else 0)
            return -cal.workdays_in(due_day, today)
        except CalendarRangeError:
            return None
