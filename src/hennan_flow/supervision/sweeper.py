"""The SLA sweeper: issues due signals and cards exactly once, and fires due BPMN timers.

Many sweepers may run at once (processes, machines) against one database. A sweep repeats, in
bounded batches and within a time budget:

1. **reap** — claims whose lease ran out (their worker died or stalled) go back to `pending`;
   **arm** — deadlines whose signals still ride on their row (`deadlines.py`: armed until the
   earliest comes due) and whose `arm_at` has come get their signals stored as `pending` rows, in a
   transaction that locks their case rows as every engine operation does, so a deadline's signals
   are stored once whoever gets there first (an engine operation stores them itself when it needs
   them);
2. **claim** — up to `batch_size` due `pending` signals become `claimed` by this batch's token, with
   `lease_until = now + lease`, and that claim commits:
   - PostgreSQL: one `UPDATE … WHERE id IN (SELECT … ORDER BY due_at LIMIT n FOR UPDATE SKIP LOCKED)
     RETURNING id`, so concurrent sweepers take disjoint rows without waiting for each other;
   - SQLite: the candidates are read without the write lock, then a version-checked
     `UPDATE … WHERE id = ? AND rev = ? AND state = 'pending'` claims each one; a row whose `rev`
     moved was taken by someone else and is dropped from the batch (the Camunda pattern);
3. **fire** — one transaction locks the batch's case rows (sorted, so two sweepers cannot deadlock;
   the engine's operations take the same lock), then fires only the rows still claimed by this
   token (`supervision.issue`). A worker killed after its claim leaves rows `claimed`: after the
   lease they are reaped and fired by another worker. A stalled worker that wakes up after its
   lease finds its token gone and fires nothing (fencing), so nothing is issued twice.

Then due BPMN timers: each due case is loaded and advanced (`fire_timers`); a case whose
expression fails is marked in error (`mark_case_error`) and the sweep goes on.

The sweeper works on an engine through `SweptEngine`, a small protocol (transactions, the clock's
stored signals, firing, timers) that the engine's `engine.supervision.SweepPort` implements; it
never touches the engine's own members, and tests can hand it any implementation.

Queries are bound by the (state, due_at) index of live `hf_signal` rows and the index of armed
deadlines, so the cost of a sweep follows the number of due signals, not the number of open steps
(bench/sweep.py).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypedDict, cast

from sqlalchemy import Connection, Select, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from ..clock.instants import as_utc
from ..clock.workdays import WorkCalendar
from ..db.models import CaseRow, DeadlineRow, SignalRow, live_signal
from ..db.transaction import Tx
from ..entities import Issued, IssuedDoc
from ..errors import ConflictError, HennanFlowError, InputError

__all__ = [
    "BatchReport",
    "SweepResult",
    "Sweeper",
    "SweptEngine",
    "armed_due",
    "calendar_warning",
    "due_signals",
    "explain",
    "lag_seconds",
]

log = logging.getLogger(__name__)

CALENDAR_WARN_DAYS = 60


class SweepDoc(TypedDict):
    issued: list[IssuedDoc]
    lag_seconds: float
    calendar: dict[str, Any]


@dataclass(frozen=True)
class BatchReport:
    """One batch of a sweep, as `sla sweep --loop` logs it (one line per batch)."""

    batch: int
    claimed: int
    issued: int
    lost: int  # claimed, then fired or reclaimed by someone else (fenced out)
    reaped: int  # expired claims put back before this batch
    lag_seconds: float
    elapsed_ms: float
    timers_fired: int = 0

    def line(self) -> str:
        return (
            f"扫描第 {self.batch} 批：认领 {self.claimed}，发出 {self.issued}，被他人处理 {self.lost}，"
            f"收回过期认领 {self.reaped}，触发定时 {self.timers_fired}，滞后 {self.lag_seconds:.3f} 秒，"
            f"用时 {self.elapsed_ms:.1f} 毫秒"
        )


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: signals and cards issued (at their due instants), timers fired, the lag.

    `lag_seconds` is now − the oldest unfired due instant (signal or BPMN timer) when the sweep
    began, 0 when nothing was overdue. `complete` is False when the time budget ran out (or a stop
    was asked) with due work left. `calendar` is the calendar block (DESIGN §7: where the data ends,
    open pending deadlines and the years they need, provisional years); `calendar_warning` is set
    when deadlines are pending or the data ends within 60 days, `calendar_warning_new` when that
    warning is news (state changed, or a day since it was last given): a loop repeats only those.
    """

    issued: tuple[Issued, ...] = ()
    lag_seconds: float = 0.0
    batches: int = 0
    claimed: int = 0
    lost: int = 0
    reaped: int = 0
    timers_fired: tuple[str, ...] = ()
    timer_errors: tuple[tuple[str, str], ...] = ()
    complete: bool = True
    calendar_last_date: date | None = None
    calendar_warning: str | None = None
    calendar: dict[str, Any] = field(default_factory=dict)
    calendar_warning_new: bool = False

    def as_dict(self) -> SweepDoc:
        """The `sla sweep` document."""
        return {
            "issued": [i.as_dict() for i in self.issued],
            "lag_seconds": self.lag_seconds,
            "calendar": self.calendar,
        }


Hold = Callable[[str, Sequence[int]], None]


class SweptEngine(Protocol):
    """What a sweep needs of an engine (implemented by `engine.supervision.SweepPort`)."""

    @property
    def postgres(self) -> bool: ...

    def now(self) -> datetime:
        """The engine's time (real, or simulated on a simulation database)."""
        ...

    def read(self) -> AbstractContextManager[Session]:
        """A read session (no write lock)."""
        ...

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction, as every engine operation runs in."""
        ...

    def connect(self) -> AbstractContextManager[Connection]:
        """A plain connection (query plans)."""
        ...

    def calendar(self) -> WorkCalendar:
        """The working-day calendar deadlines are computed with now."""
        ...

    def calendar_report(self, now: datetime) -> tuple[dict[str, Any], bool]:
        """The calendar block (ends, days_left, pending_deadlines, needed_years, provisional_years),
        announcing newly needed years, and whether its warning is news (throttled)."""
        ...

    def store_signals(self, tx: Tx, rows: Sequence[DeadlineRow]) -> None:
        """Armed deadlines' signals become stored rows (the caller holds their cases' locks)."""
        ...

    def fire(self, tx: Tx, signals: Sequence[SignalRow], now: datetime, *, claimer: str) -> list[Issued]:
        """Fire these claimed signals (cards, records, service actions) in `tx`, fenced by `claimer`."""
        ...

    def due_timer_cases(self, limit: int) -> list[str]:
        """Open cases whose next BPMN timer is due, oldest first."""
        ...

    def fire_timers(self, case_id: str) -> list[Issued] | None:
        """Advance the case past its due timers (one transaction); what that issued, None if none was due."""
        ...

    def mark_case_error(self, case_id: str, message: str) -> None:
        """A case that cannot advance is marked, with an event."""
        ...


@dataclass
class _Tally:
    issued: list[Issued] = field(default_factory=list)
    batches: int = 0
    claimed: int = 0
    lost: int = 0
    reaped: int = 0
    timers_fired: list[str] = field(default_factory=list)
    timer_errors: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = True


class Sweeper:
    """One sweep over an engine's database; `Engine.sweep()` builds and runs one over its `SweepPort`.

    Parameters:
        batch_size: signals claimed per batch (bounded work per transaction).
        budget: seconds of wall time after which the sweep stops between batches (it reports
            `complete=False`; the next sweep goes on).
        lease: seconds a claim is held before other sweepers may reap it.
        timers: also fire due BPMN timers.
        worker: this worker's name in claims (default host:pid:random).
        stop: asked between batches; True ends the sweep (SIGTERM in `sla sweep --loop`).
        on_batch: called with a `BatchReport` after each batch.
        hold: test hook, called after a claim commits (phase "claimed") and inside the fire
            transaction (phase "firing") with the claimed ids.
    """

    def __init__(
        self,
        engine: SweptEngine,
        *,
        batch_size: int = 500,
        budget: float = 30.0,
        lease: float = 60.0,
        timers: bool = True,
        worker: str | None = None,
        stop: Callable[[], bool] | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        hold: Hold | None = None,
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise InputError(f"batch_size 须在 1 到 10000 之间，收到 {batch_size}")
        if budget <= 0 or lease <= 0:
            raise InputError("budget 和 lease 须为正的秒数")
        self.engine = engine
        self.batch_size = batch_size
        self.budget = budget
        self.lease = timedelta(seconds=lease)
        self.timers = timers
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop = stop or (lambda: False)
        self.on_batch = on_batch
        self.hold = hold
        self._serial = 0

    # -- the sweep --------------------------------------------------------------------------
    def run(self) -> SweepResult:
        engine = self.engine
        started = time.monotonic()
        now = engine.now()
        with engine.read() as session:
            lag = lag_seconds(session, now)
        calendar, last_date, warning, news = self._calendar_check(now)
        tally = _Tally()
        while True:
            if self.stop():
                tally.complete = self._nothing_due()
                break
            t0 = time.monotonic()
            now = engine.now()
            reaped = self._reap(now)
            armed = self._arm(now)
            batch_lag = lag if tally.batches == 0 else self._lag(now)
            token = self._token()
            ids = self._claim(now, token)
            tally.reaped += reaped
            if not ids:
                if armed:  # stored, then claimed by another sweeper: look again
                    continue
                break
            tally.batches += 1
            tally.claimed += len(ids)
            try:
                if self.hold is not None:
                    self.hold("claimed", ids)
                issued = self._fire(ids, token)
            except BaseException:
                self._release(token)
                raise
            tally.issued.extend(issued)
            lost = len(ids) - len(issued)
            tally.lost += lost
            if self.on_batch is not None:
                self.on_batch(
                    BatchReport(
                        batch=tally.batches,
                        claimed=len(ids),
                        issued=len(issued),
                        lost=lost,
                        reaped=reaped,
                        lag_seconds=batch_lag,
                        elapsed_ms=(time.monotonic() - t0) * 1000,
                    )
                )
            if time.monotonic() - started > self.budget:
                tally.complete = self._nothing_due()
                break
        if self.timers and tally.complete:
            self._fire_timers(started, tally)
        tally.issued.sort(key=lambda i: (i.at, i.signal_id))
        return SweepResult(
            issued=tuple(tally.issued),
            lag_seconds=lag,
            batches=tally.batches,
            claimed=tally.claimed,
            lost=tally.lost,
            reaped=tally.reaped,
            timers_fired=tuple(tally.timers_fired),
            timer_errors=tuple(tally.timer_errors),
            complete=tally.complete,
            calendar_last_date=last_date,
            calendar_warning=warning,
            calendar=calendar,
            calendar_warning_new=news,
        )

    def _token(self) -> str:
        self._serial += 1
        return f"{self.worker}#{self._serial}"

    def _postgres(self) -> bool:
        return self.engine.postgres

    # -- reap, claim, release ---------------------------------------------------------------
    def _reap(self, now: datetime) -> int:
        """Claims whose lease ran out go back to pending (their worker died or stalled)."""
        expired = select(SignalRow.id).where(
            live_signal(), SignalRow.state == "claimed", SignalRow.lease_until < now
        )
        with self.engine.read() as session:  # the common case, nothing expired, takes no write lock
            if session.scalar(expired.limit(1)) is None:
                return 0
        stmt = update(SignalRow)
        if self._postgres():  # a locking CTE runs once (see _claim)
            locked = expired.with_for_update(skip_locked=True).cte("expired")
            stmt = stmt.where(SignalRow.id == locked.c.id)
        else:
            stmt = stmt.where(SignalRow.id.in_(expired))
        stmt = (
            stmt.where(live_signal(), SignalRow.state == "claimed", SignalRow.lease_until < now)
            .values(state="pending", claimed_by=None, lease_until=None, rev=SignalRow.rev + 1)
            .returning(SignalRow.id)
            .execution_options(synchronize_session=False)
        )
        with self.engine.write() as tx:
            reaped = len(tx.session.execute(stmt).all())
        if reaped:
            log.warning("收回 %d 项过期认领（有扫描进程退出，或超过租约仍未完成）", reaped)
        return reaped

    def _arm(self, now: datetime) -> int:
        """Store the signals of up to `batch_size` armed deadlines whose first signal is due."""
        engine = self.engine
        with engine.read() as session:  # the common case, nothing due, takes no write lock
            ids = list(session.scalars(armed_due(now, self.batch_size)))
        if not ids:
            return 0
        with engine.write() as tx:
            # whoever stores a deadline's signals first, the others find it disarmed under the lock
            _lock_cases(tx, select(DeadlineRow.case_id).where(DeadlineRow.id.in_(ids)))
            rows = tx.session.scalars(
                select(DeadlineRow)
                .where(DeadlineRow.id.in_(ids), DeadlineRow.arm_at.is_not(None))
                .order_by(DeadlineRow.id)
                .execution_options(populate_existing=True)
            ).all()
            engine.store_signals(tx, rows)
        return len(rows)

    def _claim(self, now: datetime, token: str) -> list[int]:
        until = now + self.lease
        if self._postgres():
            # WITH due AS (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE … FROM due: a locking CTE
            # runs exactly once; as `id IN (subquery)` the planner may rerun the LIMIT per row
            # (a nested-loop semi join) and claim more than n
            due = (
                due_signals(now, self.batch_size, columns=(SignalRow.id,))
                .with_for_update(skip_locked=True)
                .cte("due")
            )
            stmt = (
                update(SignalRow)
                .where(SignalRow.id == due.c.id, SignalRow.state == "pending")
                .values(state="claimed", claimed_by=token, lease_until=until, rev=SignalRow.rev + 1)
                .returning(SignalRow.id)
                .execution_options(synchronize_session=False)
            )
            with self.engine.write() as tx:
                return list(tx.session.scalars(stmt))
        # SQLite: read candidates without the write lock, claim each with a version check
        with self.engine.read() as session:
            candidates = session.execute(due_signals(now, self.batch_size)).all()
        if not candidates:
            return []
        table = cast(Table, SignalRow.__table__)
        claim = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.rev == bindparam("b_rev"),
                table.c.state == "pending",
            )
            .values(state="claimed", claimed_by=token, lease_until=until, rev=table.c.rev + 1)
        )
        ids = [i for i, _ in candidates]
        with self.engine.write() as tx:
            tx.session.execute(claim, [{"b_id": i, "b_rev": r} for i, r in candidates])
            won = list(
                tx.session.scalars(
                    select(SignalRow.id).where(
                        SignalRow.id.in_(ids), SignalRow.state == "claimed", SignalRow.claimed_by == token
                    )
                )
            )
        if len(won) < len(ids):
            log.info("认领：%d/%d 项已被其他扫描进程认领", len(ids) - len(won), len(ids))
        return won

    def _release(self, token: str) -> None:
        """Give back this batch's claims at once (an error or a stop), instead of waiting for the lease."""
        try:
            with self.engine.write() as tx:
                tx.session.execute(
                    update(SignalRow)
                    .where(live_signal(), SignalRow.state == "claimed", SignalRow.claimed_by == token)
                    .values(state="pending", claimed_by=None, lease_until=None, rev=SignalRow.rev + 1)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # the lease will expire instead
            log.warning("未能释放 %s 的认领；租约到期后自动收回", token)

    # -- fire ---------------------------------------------------------------------------------
    def _fire(self, ids: Sequence[int], token: str) -> list[Issued]:
        engine = self.engine
        with engine.write() as tx:
            now = engine.now()
            _lock_cases(tx, select(SignalRow.case_id).where(SignalRow.id.in_(ids)))
            rows = tx.session.scalars(
                select(SignalRow)
                .where(SignalRow.id.in_(ids))
                .order_by(SignalRow.due_at, SignalRow.id)
                .execution_options(populate_existing=True)
            ).all()
            if self.hold is not None:
                self.hold("firing", ids)
            return engine.fire(tx, rows, now, claimer=token)

    # -- BPMN timers --------------------------------------------------------------------------
    def _fire_timers(self, started: float, tally: _Tally) -> None:
        engine = self.engine
        seen: set[str] = set()
        while not self.stop() and time.monotonic() - started <= self.budget:
            due = [c for c in engine.due_timer_cases(len(seen) + self.batch_size) if c not in seen]
            if not due:
                break
            t0 = time.monotonic()
            fired = 0
            for case_id in due:
                if self.stop() or time.monotonic() - started > self.budget:
                    tally.complete = False
                    break
                seen.add(case_id)
                if self._fire_timer(case_id, tally):
                    fired += 1
            if self.on_batch is not None:
                self.on_batch(
                    BatchReport(
                        batch=tally.batches + 1,
                        claimed=0,
                        issued=0,
                        lost=0,
                        reaped=0,
                        lag_seconds=0.0,
                        elapsed_ms=(time.monotonic() - t0) * 1000,
                        timers_fired=fired,
                    )
                )
            tally.batches += 1

    def _fire_timer(self, case_id: str, tally: _Tally) -> bool:
        """Fire one case's due timers; what its transaction issued (steps it ended late) joins the sweep's."""
        engine = self.engine
        try:
            issued = engine.fire_timers(case_id)
            if issued is None:
                return False
            tally.timers_fired.append(case_id)
            tally.issued.extend(issued)
            return True
        except ConflictError as exc:  # busy or raced: the next sweep tries again
            log.info("案件 %s 的定时本次未触发：%s", case_id, exc.message)
            return False
        except HennanFlowError as exc:
            message = str(exc)
        except Exception as exc:  # a bug must not stop the sweep, nor retry forever
            log.exception("案件 %s 的定时触发失败", case_id)
            message = f"internal error while firing a timer: {type(exc).__name__}"
        tally.timer_errors.append((case_id, message))
        try:
            engine.mark_case_error(case_id, message)
        except HennanFlowError as exc:
            log.warning("未能将案件 %s 标记为出错：%s", case_id, exc)
        log.warning("案件 %s 已标记为出错：其定时无法触发", case_id)
        return False

    # -- lag, calendar ----------------------------------------------------------------------
    def _lag(self, now: datetime) -> float:
        with self.engine.read() as session:
            return lag_seconds(session, now)

    def _nothing_due(self) -> bool:
        now = self.engine.now()
        with self.engine.read() as session:
            due = session.scalar(due_signals(now, 1, columns=(SignalRow.id,)))
            armed = session.scalar(armed_due(now, 1))
        return due is None and armed is None

    def _calendar_check(self, now: datetime) -> tuple[dict[str, Any], date | None, str | None, bool]:
        try:
            doc, news = self.engine.calendar_report(now)
        except HennanFlowError as exc:  # pragma: no cover - a broken stored calendar
            log.warning("工作日历不可用：%s", exc)
            return {}, None, None, False
        warning = calendar_warning(doc)
        if warning is not None and news:
            log.warning(warning)
        return doc, date.fromisoformat(doc["ends"]), warning, warning is not None and news


def calendar_warning(doc: dict[str, Any]) -> str | None:
    """The sweep's warning line, in Chinese for county staff: deadlines are pending, or the data ends
    within 60 days."""
    parts = []
    if doc["pending_deadlines"]:
        years = "、".join(f"{y} 年" for y in doc["needed_years"])
        parts.append(f"{doc['pending_deadlines']} 项未结期限待定，须工作日历覆盖 {years}")
    if doc["days_left"] < CALENDAR_WARN_DAYS:
        parts.append(f"工作日历数据止于 {doc['ends']}（距今 {max(doc['days_left'], 0)} 天）")
    if not parts:
        return None
    year = doc["needed_years"][0] if doc["needed_years"] else int(doc["ends"][:4]) + 1
    return (
        "；".join(parts) + f"；超出日历的期限暂不计算。请载入 {year} 年日历：hennan-flow calendar load 文件"
        f"（国务院放假安排公布前，可先用 hennan-flow calendar provisional {year}）"
    )


def _lock_cases(tx: Tx, case_ids: Select[Any]) -> None:
    """Lock the cases of a batch (one writer per case, as every engine operation), sorted so that
    two sweepers cannot deadlock."""
    tx.lock_cases(list(tx.session.scalars(case_ids)))


def due_signals(now: datetime, limit: int, *, columns: Sequence[Any] | None = None) -> Select[Any]:
    """The claim candidates: due pending signals, oldest first, read from the (state, due_at) index of live signals."""
    return (
        select(*(columns or (SignalRow.id, SignalRow.rev)))
        .where(live_signal(), SignalRow.state == "pending", SignalRow.due_at <= now)
        .order_by(SignalRow.due_at)
        .limit(limit)
    )


def armed_due(now: datetime, limit: int) -> Select[Any]:
    """Armed deadlines whose first signal is due, oldest first, read from the index of armed deadlines."""
    return (
        select(DeadlineRow.id)
        .where(DeadlineRow.arm_at.is_not(None), DeadlineRow.arm_at <= now)
        .order_by(DeadlineRow.arm_at)
        .limit(limit)
    )


def _lag_queries() -> dict[str, Select[Any]]:
    return {
        "lag_armed": select(func.min(DeadlineRow.arm_at)).where(DeadlineRow.arm_at.is_not(None)),
        "lag_pending": select(func.min(SignalRow.due_at)).where(live_signal(), SignalRow.state == "pending"),
        "lag_claimed": select(func.min(SignalRow.due_at)).where(live_signal(), SignalRow.state == "claimed"),
        "lag_timers": select(func.min(CaseRow.next_timer_at)).where(
            CaseRow.next_timer_at.is_not(None), CaseRow.state == "open"
        ),
    }


def explain(engine: SweptEngine, now: datetime | None = None) -> dict[str, list[str]]:
    """The database's plan for each query a sweep runs on hf_signal and hf_case (operators, bench).

    SQLite: the EXPLAIN QUERY PLAN details; PostgreSQL: the EXPLAIN lines. A healthy plan reads
    `ix_hf_signal_live`, `ix_hf_deadline_arm` and `ix_hf_case_open_timer`, never a whole table.
    """
    at = now or engine.now()
    queries: dict[str, Select[Any]] = {
        "arm": armed_due(at, 500),
        "claim": due_signals(at, 500),
        "reap": select(SignalRow.id)
        .where(live_signal(), SignalRow.state == "claimed", SignalRow.lease_until < at)
        .limit(1),
        **_lag_queries(),
        # the shape of due_timer_cases
        "timers": select(CaseRow.id)
        .where(CaseRow.next_timer_at <= at, CaseRow.state == "open")
        .order_by(CaseRow.next_timer_at)
        .limit(100),
    }
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        for name, query in queries.items():
            compiled = query.compile(dialect=conn.dialect)
            params = compiled.construct_params()
            if sqlite:
                positional = tuple(
                    v.isoformat(" ") if isinstance(v, datetime) else v
                    for v in (params[k] for k in compiled.positiontup or ())
                )
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional).all()
                out[name] = [str(r[-1]) for r in rows]
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", params).all()
                out[name] = [str(r[0]) for r in rows]
    return out


def lag_seconds(session: Session, now: datetime) -> float:
    """now − the oldest unfired due instant (a pending or claimed signal, an armed deadline's first
    signal, or an open case's timer)."""
    oldest: list[datetime] = []
    for query in _lag_queries().values():  # index lookups: arm_at, (state, due_at) twice, next_timer_at
        found = session.scalar(query)
        if found is not None:
            oldest.append(as_utc(found))
    due = [d for d in oldest if d <= now]
    if not due:
        return 0.0
    return round((now - min(due)).total_seconds(), 3)
