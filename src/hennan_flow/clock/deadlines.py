"""The statutory clock inside the engine: stored deadlines and signal instants of steps and cases.

When a step becomes ready (受理) its limits are copied from the bundle and its deadlines and signal
instants are computed with the working-day calendar (`arithmetic.py`). Most steps end long before any of
their signals comes due, so the signals first ride on the deadline row (their instants in its
`*_due` columns): it is *armed* with the earliest of them (`arm_at`, indexed over armed rows), and
they become `hf_signal` rows (`store_signals`) only when something needs them — the sweeper when
that instant comes, or a pause, an extension, a new calendar or a late end before it. A step that
ends in time writes one deadline row and closes it, nothing more.

Pauses (补正, 特别程序, 挂起) stop a step's clock and its signals; extensions (延长审批) move its
deadlines; a new calendar version recomputes every open deadline. Where the calendar does not
reach far enough the deadline is stored as pending and computed as soon as data arrives.
Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import or_, select, update

from ..bpmn.bundle import TimeLimit
from ..db import hotpath
from ..db.models import DeadlineRow, ExtensionRow, PauseRow, SignalRow
from ..db.raw import Raw
from ..db.transaction import DeadlineView, Tx
from ..errors import CalendarRangeError
from .arithmetic import Schedule, instant_names, paused_workdays, paused_workdays_union, shift, step_schedule
from .instants import SHANGHAI, as_utc, local_date, local_day_ended, local_iso
from .workdays import WorkCalendar

__all__ = ["CASE_STOPPING_REASONS", "PAUSE_REASONS", "Deadlines", "counted_pause"]

log = logging.getLogger(__name__)

PAUSE_REASONS = ("supplement", "special_procedure", "suspended")
CASE_STOPPING_REASONS = ("supplement", "special_procedure")  # DESIGN §4: the case clock stops for these

# schedule field → (signal name, kind, trigger, the hf_deadline column its instant rides in while
# the row is armed); signals are stored in this order
_SIGNALS: dict[str, tuple[str, str, str, str]] = {
    "notice": ("notice", "signal", "notice_before", "notice_due"),
    "yellow_light": ("yellow_light", "signal", "yellow_light_at", "yellow_light_due"),
    "yellow_card": ("yellow", "card", "promised_passed", "yellow_due"),
    "red_card": ("red", "card", "overdue_workdays", "red_due"),
}

# a schedule's instant name (INSTANT_NAMES) → its signal's name
_SIGNAL_OF = {attribute: names[0] for attribute, names in _SIGNALS.items()}
_INSTANT_OF = {signal: instant for instant, signal in _SIGNAL_OF.items()}

Fire = Callable[[Tx, SignalRow, datetime], None]  # a signal due when its step or case ends fires


# the pauses a schedule is shifted by: ended ones, and special procedures past their limit (whose
# time counts again from it while the step is still paused: `engine.pauses`)
_COUNTED_PAUSE = or_(PauseRow.ended_at.is_not(None), PauseRow.overrun_at.is_not(None))


def counted_pause(pause: PauseRow) -> tuple[datetime, datetime] | None:
    """The part of a pause left out of its step's limits: a special procedure only up to its
    declared limit (`limit_at`); None while it is open and uncapped."""
    end = as_utc(pause.ended_at)
    if pause.reason == "special_procedure" and pause.limit_at is not None:
        limit = as_utc(pause.limit_at)
        end = limit if end is None else min(end, limit)
    return None if end is None else (as_utc(pause.started_at), end)


def _wanted(sched: Schedule) -> list[tuple[str, str, str, datetime]]:
    """(name, kind, trigger, due instant) of every signal and card the schedule sets."""
    out = []
    for attribute, (name, kind, trigger, _) in _SIGNALS.items():
        at = getattr(sched, f"{attribute}_at")
        if at is None:
            continue
        if name == "red":
            trigger = sched.red_card_signal or trigger
        out.append((name, kind, trigger, at))
    return out


@dataclass(frozen=True, slots=True)
class _Derived:
    """What a schedule makes of a deadline row and its view, but for the row's own columns."""

    calendar: WorkCalendar  # the one it was computed with (a calendar's data may change, not its id)
    postgres: bool  # instants are stored as text on SQLite, as datetimes on PostgreSQL
    schedule: Schedule
    stored: tuple[Any, ...]  # the row's columns from `pending` on (hotpath.insert_deadline)
    view: DeadlineView  # copied for each deadline started with it


def _derive(sched: Schedule, cal: WorkCalendar, raw: Raw, kind: str, timed: TimeLimit | None) -> _Derived:
    wanted = _wanted(sched)
    riding = {name: (trigger, at) for name, _, trigger, at in wanted}
    due = sched.promised_due
    stored = (
        bool(sched.pending),
        sched.calendar_version,
        0,
        raw.ts(due),
        raw.ts(sched.legal_due),
        raw.ts(min(at for _, at in riding.values())) if riding else None,
        *(raw.ts(riding[name][1]) if name in riding else None for name, *_ in _SIGNALS.values()),
        riding["red"][0] if "red" in riding else None,
    )
    view = _shown(
        kind=kind,
        unit=timed.unit if timed else None,
        promised=timed.promised if timed else None,
        legal=timed.legal if timed else None,
        pending=list(sched.pending),
        provisional=sched.provisional_in(cal.provisional_years),
        paused=False,
        promised_due=local_iso(due),
        legal_due=local_iso(sched.legal_due),
        left=None if due is None else _workdays_left(cal, due, local_date(sched.accepted_at)),
        version=sched.calendar_version,
        # as `views` orders them: by instant, then in the order they were stored
        signals=[
            {"name": name, "at": local_iso(at), "state": "pending"}
            for name, _, _, at in sorted(wanted, key=lambda w: w[3])
        ],
    )
    return _Derived(cal, raw.postgres, sched, stored, view)


@dataclass
class Deadlines:
    """The stored deadlines of one engine: its calendar, close of business and how signals fire."""

    calendar: Callable[[Tx | Raw], WorkCalendar]
    fire: Fire
    close_of_business: time | None = None
    _schedules: dict[tuple[Any, ...], Schedule] = field(default_factory=dict, repr=False)
    _derived: dict[tuple[Any, ...], _Derived] = field(default_factory=dict, repr=False)
    """What `start` stores and shows of a shared schedule, by `_key` (the day's steps share it)."""

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        tx: Tx,
        *,
        owner: str,
        case_id: str,
        task_id: str | None,
        scope: str,
        step: str | None,
        kind: str,
        limit: TimeLimit | None,
        accepted_at: datetime,
    ) -> bool:
        """Store the deadlines of a step instance or case, armed with its signals; False when it has no limits.

        The hot path: one driver-level insert, no ORM objects. What was stored is remembered for
        the transaction (`tx.started`, read by `fresh_views`), so the caller can show it without
        reading it back.
        """
        started = tx.started
        if kind != "immediate" and limit is None:
            started[owner] = None
            return False
        timed = limit if kind != "immediate" else None
        cal = self.calendar(tx)
        raw = tx.raw
        key = self._key(accepted_at, timed, kind, cal)
        derived = self._derived.get(key) if key is not None else None
        if derived is None or derived.calendar is not cal or derived.postgres != raw.postgres:
            derived = _derive(self._schedule(accepted_at, timed, kind, cal), cal, raw, kind, timed)
            if key is not None:
                if len(self._derived) > 4096:
                    self._derived.clear()
                self._derived[key] = derived
        sched = derived.schedule
        if sched.pending:
            log.warning(
                "期限待定（工作日历数据不足）：案件 %s，期限 %s，待定 %s，须载入 %s 年日历",
                case_id,
                owner,
                ",".join(sched.pending),
                "、".join(map(str, sched.needed_years)),
            )
        hotpath.insert_deadline(
            raw,
            (
                owner,
                case_id,
                task_id,
                scope,
                step,
                kind,
                timed.unit if timed else None,
                timed.legal if timed else None,
                timed.promised if timed else None,
                limit.notice_before if limit else 1,
                repr(limit.yellow_light_at) if limit else "0.8",
                timed.red_after if timed else 3,
                raw.ts(accepted_at),
                *derived.stored,
            ),
        )
        view = dict(derived.view)
        view["pending"] = list(sched.pending)
        view["signals"] = [dict(signal) for signal in derived.view["signals"]]
        started[owner] = view
        return True

    def _key(
        self, accepted_at: datetime, limit: TimeLimit | None, kind: str, cal: WorkCalendar
    ) -> tuple[Any, ...] | None:
        """What a schedule depends on when its instants depend only on the acceptance day (None: on
        the instant itself). Working-day and immediate deadlines and all their signals are ends of
        days: every step accepted on the same day with the same limit shares them."""
        if kind != "immediate" and (limit is None or limit.unit != "workday"):
            return None
        local = accepted_at.astimezone(SHANGHAI)
        after_close = self.close_of_business is not None and local.time() > self.close_of_business
        limits = (
            None
            if limit is None
            else (
                limit.unit,
                limit.legal,
                limit.promised,
                limit.notice_before,
                limit.yellow_light_at,
                limit.red_after,
            )
        )
        return (local.date(), after_close, kind, limits, cal.version)

    def _schedule(
        self, accepted_at: datetime, limit: TimeLimit | None, kind: str, cal: WorkCalendar
    ) -> Schedule:
        """step_schedule, remembered for limits whose instants depend only on the acceptance day (`_key`)."""
        key = self._key(accepted_at, limit, kind, cal)
        if key is None:
            return step_schedule(accepted_at, limit, kind=kind, calendar=cal, close=self.close_of_business)
        cached = self._schedules.get(key)
        if cached is None:
            cached = step_schedule(accepted_at, limit, kind=kind, calendar=cal, close=self.close_of_business)
            if len(self._schedules) > 4096:
                self._schedules.clear()
            self._schedules[key] = cached
        return replace(cached, accepted_at=accepted_at)

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

    def schedule(self, tx: Tx, row: DeadlineRow) -> Schedule:
        """The current schedule of a deadline row: base schedule shifted by pauses and extensions."""
        cal = self.calendar(tx)
        base = self._schedule(as_utc(row.accepted_at), self._limit(row), row.kind, cal)
        return shift(base, self._shift_of(tx, row, cal), cal)

    def _shift_of(self, tx: Tx, row: DeadlineRow, cal: WorkCalendar) -> int:
        session = tx.session
        if row.scope == "case":
            intervals = [
                counted
                for p in session.scalars(
                    select(PauseRow).where(
                        PauseRow.case_id == row.case_id,
                        PauseRow.reason.in_(CASE_STOPPING_REASONS),
                        _COUNTED_PAUSE,
                    )
                )
                if (counted := counted_pause(p)) is not None
            ]
            return paused_workdays_union(intervals, cal)
        paused = sum(
            paused_workdays(*counted, cal)
            for p in session.scalars(select(PauseRow).where(PauseRow.task_id == row.id, _COUNTED_PAUSE))
            if (counted := counted_pause(p)) is not None
        )
        extended = sum(session.scalars(select(ExtensionRow.days).where(ExtensionRow.task_id == row.id)))
        return paused + extended

    def recompute(self, tx: Tx, row: DeadlineRow) -> bool:
        """Compute (again) the row's deadlines and its unfired signals; False when some are still pending.

        An armed row's signals are stored as rows first.
        """
        self.store_signals(tx, row)
        tx.started.pop(row.id, None)
        session = tx.session
        sched = self.schedule(tx, row)
        if sched.pending and not row.pending:
            log.warning(
                "期限待定（工作日历数据不足）：案件 %s，期限 %s，待定 %s，须载入 %s 年日历",
                row.case_id,
                row.id,
                ",".join(sched.pending),
                "、".join(map(str, sched.needed_years)),
            )
        row.pending = bool(sched.pending)
        row.calendar_version = sched.calendar_version
        row.promised_due, row.legal_due = sched.promised_due, sched.legal_due
        session.flush()
        existing = {
            s.name: s for s in session.scalars(select(SignalRow).where(SignalRow.deadline_id == row.id))
        }
        wanted = {name: (at, kind, trigger) for name, kind, trigger, at in _wanted(sched)}
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
            elif sig.state in {"pending", "paused", "waiting"}:  # waiting: its instant was past the data
                sig.due_at, sig.trigger = at, trigger
                sig.state = "paused" if paused else "pending"
                sig.rev += 1
        waiting = {_SIGNAL_OF[n] for n in sched.pending if n in _SIGNAL_OF}
        for name, sig in existing.items():
            if name not in wanted and sig.state in {"pending", "paused"}:
                # past the data now: it waits for the data, never at its old instant
                sig.state = "waiting" if name in waiting else "cancelled"
                sig.rev += 1
        return not row.pending

    # -- pausing, extending ---------------------------------------------------------------
    def fire_due(self, tx: Tx, row: DeadlineRow, now: datetime) -> list[SignalRow]:
        """Fire what is already due (before a pause, an extension or a new calendar could move it)."""
        self.store_signals(tx, row)
        tx.started.pop(row.id, None)
        due = tx.session.scalars(
            select(SignalRow)
            .where(
                SignalRow.deadline_id == row.id,
                SignalRow.state.in_(("pending", "claimed")),
                SignalRow.due_at <= now,
            )
            .order_by(SignalRow.due_at)
        ).all()
        for sig in due:
            self.fire(tx, sig, now)
        return list(due)

    def store_signals(self, tx: Tx, *rows: DeadlineRow) -> None:
        """Armed rows' signals become `hf_signal` rows, as they were computed, and the rows are disarmed.

        Everything that fires or moves a deadline's signals calls this first (views read them from
        the row); the sweeper when the earliest comes due. Callers hold the case's lock (every
        engine operation and the sweeper take it), and each statement acts on rows still armed
        only. Set-based: a few statements for a whole batch of the sweeper's.
        """
        armed = [row for row in rows if row.arm_at is not None]
        if not armed:
            return
        ids = [row.id for row in armed]
        raw = tx.raw  # flushes the rows' pending changes first
        for start in range(0, len(ids), hotpath.CHUNK):
            chunk = ids[start : start + hotpath.CHUNK]
            for name, kind, trigger, column in _SIGNALS.values():  # in this order, as `start` stored them
                hotpath.store_armed_signals(
                    raw, chunk, name=name, kind=kind, trigger=trigger, column=column, red=name == "red"
                )
            hotpath.disarm(raw, chunk)
        for row in armed:
            tx.session.expire(row)  # read again when next used

    def pause(self, tx: Tx, row: DeadlineRow, now: datetime) -> None:
        self.fire_due(tx, row, now)  # (stores its signals, forgets the row's started view)
        row.paused_since = now
        tx.session.execute(
            update(SignalRow)
            .where(SignalRow.deadline_id == row.id, SignalRow.state == "pending")
            .values(state="paused", rev=SignalRow.rev + 1)
        )

    def resume(self, tx: Tx, row: DeadlineRow) -> None:
        row.paused_since = None
        self.recompute(tx, row)

    # -- ending ---------------------------------------------------------------------------
    def close(self, tx: Tx, owner: str, now: datetime) -> int:
        """A step or case ended: its due signals fire now (at their instants), the rest are cancelled.

        Returns how many fired. The hot path: one driver-level statement when the row is still armed
        and none of its signals is due yet (a step ended in time); ORM only to fire what is due.
        """
        tx.started.pop(owner, None)
        raw = tx.raw
        closed, open_, armed = hotpath.close_armed_in_time(raw, owner, now)
        if closed:
            return 0  # its signals were never stored and none is due: they stay on the row, cancelled
        if not open_:
            return 0  # no limits, or closed already
        session = tx.session
        if armed:  # a signal came due before the sweeper stored it: store, then fire
            row = session.get(DeadlineRow, owner)
            assert row is not None
            self.store_signals(tx, row)
        hotpath.close_deadline(raw, owner, now)
        # strictly before: a step completed at its deadline instant is on time (cards are for "after")
        due = hotpath.due_signal_ids(raw, owner, now)
        for signal_id in due:
            signal = session.get(SignalRow, signal_id)
            assert signal is not None
            self.fire(tx, signal, now)
        hotpath.cancel_signals(tx.raw, owner)  # (flushes what firing changed first)
        return len(due)

    # -- reading --------------------------------------------------------------------------
    def views(self, raw: Raw, owners: Sequence[str], now: datetime) -> dict[str, dict[str, Any]]:
        """`view` for many steps at once (two driver-level queries and one calendar, whatever their number)."""
        out: dict[str, dict[str, Any]] = {}
        cal: WorkCalendar | None = None
        today = local_date(now)
        for start in range(0, len(owners), 500):
            chunk = list(owners[start : start + hotpath.CHUNK])
            rows = hotpath.deadline_views(raw, chunk)
            signals: dict[str, list[dict[str, Any]]] = {}
            for deadline_id, name, at, state in hotpath.signal_views(raw, chunk):
                signals.setdefault(deadline_id, []).append(
                    {"name": name, "at": raw.local_iso(at), "state": state}
                )
            for row in rows:
                owner, kind, unit, promised, legal, pending = row[:6]
                paused, promised_due, legal_due, version, notice_before, yellow_light_at = row[6:12]
                accepted_at, armed, *riding_at = row[12:]
                cal = cal or self.calendar(raw)
                due = raw.instant(promised_due)
                left = None
                if due is not None:
                    left = _workdays_left(cal, due, today)
                riding = [
                    (at, name)
                    for (name, *_), at in zip(_SIGNALS.values(), riding_at, strict=True)
                    if at is not None
                ]
                if riding:  # never stored: pending while armed, cancelled when the step ended in time
                    state = "pending" if armed is not None else "cancelled"
                    signals[owner] = [
                        {"name": name, "at": raw.local_iso(at), "state": state}
                        for at, name in sorted(riding, key=lambda r: r[0])
                    ]
                shown = [s for s in signals.get(owner, []) if s["state"] != "waiting"]
                waiting: list[str] = []
                if pending:  # what the limits set and is not computed yet
                    have = {_INSTANT_OF[s["name"]] for s in shown if s["name"] in _INSTANT_OF}
                    have |= {
                        n for n, at in (("promised", promised_due), ("legal", legal_due)) if at is not None
                    }
                    expected = instant_names(
                        kind, unit, legal, promised, notice_before, float(yellow_light_at)
                    )
                    waiting = [n for n in expected if n not in have]
                provisional = False
                if cal.provisional_years:
                    instants = [raw.instant(v) for v in (accepted_at, promised_due, legal_due)]
                    instants += [raw.instant(at) for at, _ in riding]
                    provisional = _touches(
                        [i for i in instants if i is not None] + [_parse_local(s["at"]) for s in shown],
                        cal.provisional_years,
                    )
                out[owner] = _shown(
                    kind=kind,
                    unit=unit,
                    promised=promised,
                    legal=legal,
                    pending=waiting,
                    provisional=provisional,
                    paused=paused is not None,
                    promised_due=raw.local_iso(promised_due),
                    legal_due=raw.local_iso(legal_due),
                    left=left,
                    version=version,
                    signals=shown,
                )
        return out

    def fresh_views(self, tx: Tx, owners: Sequence[str], now: datetime) -> dict[str, DeadlineView]:
        """`views` in a transaction: deadlines started in it (and untouched since) come from memory."""
        started = tx.started
        out = {o: v for o in owners if (v := started.get(o)) is not None}
        missing = [o for o in owners if o not in started]
        if missing:
            out.update(self.views(tx.raw, missing, now))
        return out

    def view(self, raw: Raw, owner: str, now: datetime) -> dict[str, Any] | None:
        """Deadlines as portals show them; working days left is null outside the calendar data."""
        return self.views(raw, [owner], now).get(owner)


def _shown(
    *,
    kind: str,
    unit: str | None,
    promised: int | None,
    legal: int | None,
    pending: list[str],
    provisional: bool,
    paused: bool,
    promised_due: str | None,
    legal_due: str | None,
    left: int | None,
    version: str | None,
    signals: list[dict[str, Any]],
) -> dict[str, Any]:
    """A deadline as portals see it (`Task.deadlines`)."""
    return {
        "kind": kind,
        "unit": unit,
        "promised": promised,
        "legal": legal,
        "pending": pending,
        "provisional": provisional,
        "paused": paused,
        "promised_due": promised_due,
        "legal_due": legal_due,
        "workdays_left": left,
        "calendar": version,
        "signals": signals,
    }


def _touches(instants: Sequence[datetime], years: frozenset[int]) -> bool:
    """Whether the span of these instants' local years holds one of `years`."""
    if not instants:
        return False
    first, last = local_date(min(instants)).year, local_date(max(instants)).year
    return any(first <= y <= last for y in years)


def _parse_local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _workdays_left(cal: WorkCalendar, due: datetime, today: date) -> int | None:
    due_day = local_day_ended(due)  # an end-of-day deadline at 24:00 is stored as the next day's 00:00
    try:
        if due_day >= today:
            return cal.workdays_in(today, due_day) + (1 if cal.is_workday(due_day) else 0)
        return -cal.workdays_in(due_day, today)
    except CalendarRangeError:
        return None
