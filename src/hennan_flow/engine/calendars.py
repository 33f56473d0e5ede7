"""County calendar files: storing one and recomputing every open deadline with it (one transaction).

A stored file overrides the packaged working-day data (DESIGN §4, §7): a file listing years defines
those years alone, a local adjustment is merged over them. The engine and the sweeper use what is
stored. What was already due under the old calendar stays issued at its instant; every open
deadline is computed again (a pending one gets its instants), and BPMN timers that waited for
calendar data are computed again at the next sweep.

Also here: provisional years (`calendar provisional YEAR`), `calendar status`, and the `calendar`
block every sweep reports, with the once-per-year `calendar.pending` outbox event.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ..clock.instants import as_utc, local_date, local_iso
from ..clock.statutory import weekday_holidays
from ..clock.workdays import CalendarOverride, WorkCalendar, parse_override
from ..db import hotpath
from ..db.models import PENDING_DEADLINE_SQL, CalendarRow, CaseRow, DeadlineRow, DefinitionRow, TaskRow
from ..db.raw import Raw
from ..db.transaction import Tx
from ..errors import ConfigError
from ..supervision.records import recompute_phases
from .context import EngineContext
from .rows import store_file

__all__ = ["ANNOUNCED", "block", "load", "provisional", "provisional_text", "report", "status"]

WARN_DAYS = 60  # the sweep warns when the data ends within this many days
PENDING_EVENT = "calendar.pending"

log = logging.getLogger(__name__)


def load(ctx: EngineContext, path: str, *, actor: str | None) -> dict[str, Any]:
    """Store a county override file and recompute every open deadline with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取日历文件 {path}：{exc.strerror}") from exc
    override = parse_override(text, source=path)
    return _store(ctx, override, text, Path(path).name, actor=actor)


def _store(
    ctx: EngineContext, override: CalendarOverride, text: str, source: str, *, actor: str | None
) -> dict[str, Any]:
    changed = 0
    with ctx.write() as tx:
        now = ctx.now()
        ctx.authority.check(tx, actor, "calendar.load")
        session = tx.session
        store_file(
            tx,
            CalendarRow,
            what="日历",
            version=override.version,
            source=source,
            text=text,
            now=now,
            actor=actor,
        )
        tx.journal.record(
            "calendar.loaded",
            actor=actor,
            at=now,
            detail={
                "version": override.version,
                "years": list(override.years),
                "provisional": override.provisional,
                "reason": override.reason,
            },
        )
        for row in session.scalars(select(DeadlineRow).where(DeadlineRow.closed_at.is_(None))):
            ctx.deadlines.fire_due(tx, row, now)  # what was due stays issued at its instant
            before = (row.pending, row.promised_due, row.legal_due)
            ctx.deadlines.recompute(tx, row)
            if (row.pending, row.promised_due, row.legal_due) != before:
                changed += 1
                tx.journal.record(
                    "deadline.recomputed",
                    case=row.case_id,
                    task=row.task_id,
                    step=row.step,
                    at=now,
                    detail={"calendar": override.version, "pending": row.pending},
                )
        # the phase deadlines of open 红黄牌 records follow the new calendar as the steps' do
        for phase, card in recompute_phases(tx, ctx.phases, now):
            changed += 1
            tx.journal.record(
                "deadline.recomputed",
                case=phase.case_id,
                task=card.task_id,
                step=card.step,
                at=now,
                detail={
                    "calendar": override.version,
                    "card": card.id,
                    "phase": phase.phase,
                    "pending": phase.due_at is None,
                },
            )
        # BPMN timers that waited for calendar data are computed again at the next sweep; a case
        # whose process has no BPMN timer has none waiting (issue 18: no spurious timer.fired)
        timed = select(DefinitionRow.id).where(DefinitionRow.bpmn.contains("timerEventDefinition"))
        session.execute(
            update(CaseRow)
            .where(
                CaseRow.state == "open",
                CaseRow.next_timer_at.is_(None),
                CaseRow.definition_id.in_(timed),
            )
            .values(next_timer_at=now, rev=CaseRow.rev + 1)
        )
        cal = ctx.calendar(tx)
    log.info("calendar loaded: version=%s recomputed=%d", override.version, changed)
    return {
        "version": override.version,
        "calendar": cal.version,
        "recomputed": changed,
        "years": list(override.years),
        "provisional_years": sorted(cal.provisional_years),
    }


def provisional_text(year: int) -> str:
    """The TOML of a provisional year: its statutory holidays on Monday to Friday rest, no make-up days."""
    days = weekday_holidays(year)
    rest = "".join(f'    "{d.isoformat()}",  # {name}\n' for d, name in days.items())
    return (
        f'version = "provisional-{year}"\n'
        f"years = [{year}]\n"
        "provisional = true\n"
        "# built from 全国年节及纪念日放假办法 (2024 revision) until the State Council's schedule is loaded\n"
        f"rest = [\n{rest}]\n"
        "work = []\n"
    )


def provisional(ctx: EngineContext, year: int, *, actor: str | None) -> dict[str, Any]:
    """Store a provisional year (DESIGN §7) and recompute every open deadline with it."""
    with ctx.read() as session:
        cal = ctx.calendar(session)
    if cal.covers(date(year, 1, 1)):
        what = "临时年份" if year in cal.provisional_years else f"日历 {cal.version}"
        raise ConfigError(
            f"{year} 年已有日历数据（{what}）：临时年份只用于没有数据的年份",
            hint="查看已存数据：hennan-flow calendar status；载入国务院的放假安排："
            "hennan-flow calendar load FILE",
        )
    body = provisional_text(year)
    override = parse_override(body, source=f"provisional-{year}")
    return _store(ctx, override, body, f"provisional-{year}", actor=actor)


# -- what the calendar does not reach -------------------------------------------------------------


def _needed_year(cal: WorkCalendar, accepted: date) -> int:
    """The first year past the data run an acceptance day lies in: what its pending instants wait for."""
    for first, last in cal.ranges:
        if first <= accepted <= last:
            return last.year + 1
    return accepted.year


def _pending(raw: Raw, cal: WorkCalendar) -> dict[int, int]:
    """Open pending deadlines by the year they need."""
    out: dict[int, int] = {}
    where = PENDING_DEADLINE_SQL["postgresql" if raw.postgres else "sqlite"]  # as the partial index says
    for (accepted_at,) in raw.rows(f"SELECT accepted_at FROM hf_deadline WHERE {where}"):
        instant = raw.instant(accepted_at)
        assert instant is not None
        year = _needed_year(cal, local_date(instant))
        out[year] = out.get(year, 0) + 1
    return out


def block(ctx: EngineContext, now: datetime) -> dict[str, Any]:
    """The `calendar` block of a sweep (DESIGN §7); the first time a year is needed, one
    `calendar.pending` outbox event for it (exactly once, whatever the number of sweepers)."""
    with ctx.reading() as raw:
        cal = ctx.calendar(raw)
        needed = _pending(raw, cal)
    last = cal.last_date
    doc: dict[str, Any] = {
        "ends": last.isoformat(),
        "days_left": (last - local_date(now)).days,
        "pending_deadlines": sum(needed.values()),
        "needed_years": sorted(needed),
        "provisional_years": sorted(cal.provisional_years),
    }
    fresh = [y for y in sorted(needed) if y not in ctx.announced_years]
    if fresh:
        with ctx.write() as tx:
            for year in fresh:
                _announce(tx, year, needed[year], now)
        ctx.announced_years.update(fresh)
    return doc


ANNOUNCED = "SELECT id FROM hf_outbox WHERE case_id IS NULL AND type = ? AND ref = ?"  # a year's event


def _announce(tx: Tx, year: int, count: int, now: datetime) -> None:
    raw = tx.raw
    if raw.postgres:  # the outbox writers' lock, taken first: one announcer at a time
        hotpath.outbox_lock(raw)
    ref = f"calendar-{year}"
    found = raw.row(ANNOUNCED, (PENDING_EVENT, ref))
    if found is not None:
        return
    tx.journal.publish(
        PENDING_EVENT, case=None, ref=ref, at=now, payload={"year": year, "pending_deadlines": count}
    )
    tx.journal.record(PENDING_EVENT, at=now, detail={"year": year, "pending_deadlines": count})
    log.warning("需要工作日历数据：%d 项未结期限等待 %d 年日历", count, year)


def report(ctx: EngineContext, now: datetime) -> tuple[dict[str, Any], bool]:
    """The sweep's calendar block, and whether its warning is news: the state changed since the last
    one logged, or a day went by (the library's throttle: a sweeper loop does not repeat it)."""
    doc = block(ctx, now)
    key = (
        doc["ends"],
        doc["pending_deadlines"] > 0,
        tuple(doc["needed_years"]),
        tuple(doc["provisional_years"]),
        doc["days_left"] < WARN_DAYS,
    )
    warned = ctx.calendar_warned
    news = warned is None or warned[0] != key or now - warned[1] >= timedelta(days=1) or now < warned[1]
    if news:
        ctx.calendar_warned = (key, now)
    return doc, news


def status(ctx: EngineContext) -> dict[str, Any]:
    """`calendar status`: the stored calendar, what it covers, and what it leaves pending or unsupervised."""
    now = ctx.now()
    with ctx.read() as session:
        cal = ctx.calendar(session)
        stored = []
        for row in session.scalars(select(CalendarRow).order_by(CalendarRow.id)):
            override = parse_override(row.text, source=row.source, stored=True)
            stored.append(
                {
                    "version": row.version,
                    "source": row.source,
                    "loaded_at": local_iso(as_utc(row.loaded_at)),
                    "loaded_by": row.loaded_by,
                    "years": list(override.years),
                    "provisional": override.provisional,
                    "reason": override.reason,
                }
            )
        needed = _pending(Raw(session.connection()), cal)
        unsupervised = _unsupervised(ctx, session)
    last = cal.last_date
    return {
        "calendar": cal.version,
        "sources": stored,
        "ranges": [[a.isoformat(), b.isoformat()] for a, b in cal.ranges],
        "ends": last.isoformat(),
        "days_left": (last - local_date(now)).days,
        "provisional_years": sorted(cal.provisional_years),
        "pending_deadlines": sum(needed.values()),
        "needed_years": sorted(needed),
        "unsupervised": unsupervised,
    }


def _unsupervised(ctx: EngineContext, session: Any) -> list[dict[str, Any]]:
    """Open steps whose bundle gives them limits but that have no deadline row (opened before an
    upgrade from 0001): nothing supervises them."""
    rows = session.execute(
        select(TaskRow.id, TaskRow.case_id, TaskRow.step, TaskRow.ready_at, CaseRow.definition_id)
        .join(CaseRow, CaseRow.id == TaskRow.case_id)
        .where(TaskRow.state.in_(("ready", "paused")))
        .where(~select(DeadlineRow.id).where(DeadlineRow.id == TaskRow.id).exists())
    ).all()
    out = []
    for task_id, case_id, step_id, ready_at, definition_id in rows:
        step = ctx.definition(session, definition_id).bundle.step(step_id)
        if step is None or (step.kind != "immediate" and step.time_limit is None):
            continue
        out.append(
            {"task": task_id, "case": case_id, "step": step_id, "ready_at": local_iso(as_utc(ready_at))}
        )
    return out
