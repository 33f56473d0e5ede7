"""County calendar files: storing one and recomputing every open deadline with it (one transaction).

A stored file overrides the packaged working-day data (DESIGN §4); the engine and the sweeper use
what is stored. What was already due under the old calendar stays issued at its instant; every open
deadline is computed again (a pending one gets its instants), and BPMN timers that waited for
calendar data are computed again at the next sweep.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ..clock.workdays import parse_override
from ..db.models import CalendarRow, CaseRow, DeadlineRow, DefinitionRow
from ..errors import ConfigError
from .context import EngineContext

__all__ = ["load"]

log = logging.getLogger(__name__)


def load(ctx: EngineContext, path: str, *, actor: str | None) -> dict[str, Any]:
    """Store a county override file and recompute every open deadline with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read calendar file {path}: {exc.strerror}") from exc
    override = parse_override(text, source=path)
    changed = 0
    with ctx.write() as tx:
        now = ctx.now()
        ctx.authority.check(tx, actor, "calendar.load")
        session = tx.session
        if session.scalar(select(CalendarRow).where(CalendarRow.version == override.version)) is not None:
            raise ConfigError(
                f"calendar version {override.version!r} is already loaded",
                hint='give the file a new version = "…"',
            )
        session.add(
            CalendarRow(
                version=override.version, source=Path(path).name, text=text, loaded_at=now, loaded_by=actor
            )
        )
        session.flush()
        tx.journal.record(
            "calendar.loaded",
            actor=actor,
            at=now,
            detail={"version": override.version, "years": list(override.years)},
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
        version = ctx.calendar(tx).version
    log.info("calendar loaded: version=%s recomputed=%d", override.version, changed)
    return {"version": override.version, "calendar": version, "recomputed": changed}
