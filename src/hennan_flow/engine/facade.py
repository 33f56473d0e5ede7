"""The engine portals embed: persistent cases of versioned bundles over SQLAlchemy.

Usage::

    from hennan_flow import Engine
    engine = Engine("sqlite:///hennan_flow.db")
    engine.upgrade()                                   # once: create/migrate the schema
    engine.deploy("processes/")
    case = engine.start_case("enterprise_opening", applicant={...}, data={...})
    for task in engine.tasks(department="amr"):
        engine.complete_task(task.id, data={...}, actor="clerk-007")

SpiffWorkflow only executes the BPMN; the engine owns persistence, the clock, supervision and the
audit log. Every public operation that changes state is one transaction that also appends its audit
events, and `start_case`/`complete_task` run the process to its next wait state inside it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..bpmn.bundle import Bundle
from ..clock.arithmetic import end_of_day
from ..clock.deadlines import CASE_STOPPING_REASONS, PAUSE_REASONS, Clock
from ..clock.instants import as_utc, local_date
from ..clock.workdays import WorkCalendar, parse_override
from ..db import migrate
from ..db.checkpoint import Checkpointer
from ..db.models import (
    CalendarRow,
    CaseRow,
    DeadlineRow,
    DefinitionRow,
    EventRow,
    ExtensionRow,
    MetaRow,
    PauseRow,
    SignalRow,
    TaskRow,
)
from ..db.models import snapshot as make_snapshot
from ..db.raw import Raw, raw_of
from ..db.session import make_engine, read_sessions, sqlite_file, transaction, write_sessions
from ..entities import Case, Deployment, Event, Task
from ..errors import (
    ConfigError,
    ConflictError,
    HennanFlowError,
    InputError,
    NotFoundError,
    SchemaOutOfDateError,
    SimulationError,
    StateError,
)
from ..ids import new_id
from ..runtime.sandbox import Sandbox
from ..runtime.workflow import (
    SPIFF_VERSION,
    EngineScriptEngine,
    StateCodec,
    advance,
    check_depth,
    complete,
    finished,
    new_workflow,
    next_timer,
    quiet_spiff_loggers,
    ready_user_tasks,
)
from ..supervision.cards import Card, OutboxEvent
from ..supervision.figures import SupervisionReport
from ..supervision.sweeper import BatchReport, SweepResult
from .definitions import Candidate, LoadedDefinition, collect, load_definition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..db.models import ToleranceRow
    from ..services.commitments import Commitment, CreditRecord
    from ..services.licences import LicenceProvider
    from ..services.reviews import Review
    from ..services.tolerance import CaseMaterials, MaterialPlan, StepPlan
    from ..supervision.cards import Issued
    from ..supervision.figures import ReviewSummary

__all__ = ["Engine", "SimulatedClock"]

log = logging.getLogger(__name__)
_RETRIES = 8


class SimulatedClock:
    """A clock for simulation databases: starts at an instant, moves only when told."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = as_utc(instant)

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self._now += timedelta(**delta)
        return self._now


@dataclass
class _Cached:
    rev: int
    workflow: Any


class Engine:
    """Persistent cases of versioned bundles; SQLite (default) or PostgreSQL.

    Parameters:
        url: database URL, `sqlite:///file.db` or `postgresql+psycopg://…`.
        clock: simulated time (a datetime or a callable returning one); only on simulation databases.
        forms: folder of form schemas used by `deploy` (default: forms/ beside the BPMN folder).
        allow_code_tasks: accept script/service/business-rule tasks (still sandboxed).
        max_cycles: how many times one step may come round in a case (rework loops).
        calendar: the working-day calendar to use instead of the one stored in the database.
        close_of_business: the local time a day ends for deadlines (default 24:00).
        licences: where e-licences are verified (licences.HttpLicenceProvider); default none:
            exempted materials are recorded unverified and the case proceeds.
    """

    def __init__(
        self,
        url: str = "sqlite:///hennan_flow.db",
        *,
        clock: datetime | Callable[[], datetime] | None = None,
        forms: str | None = None,
        allow_code_tasks: bool = False,
        max_cycles: int = 100,
        calendar: WorkCalendar | None = None,
        close_of_business: time | None = None,
        licences: LicenceProvider | None = None,
    ) -> None:
        if max_cycles < 1:
            raise ConfigError("max_cycles must be at least 1")
        quiet_spiff_loggers()
        self.url = url
        self._db = make_engine(url)
        self._write = write_sessions(self._db)
        path = sqlite_file(self._db)
        self._checkpointer = Checkpointer(path, self) if path else None
        self._read = read_sessions(self._db)
        if isinstance(clock, datetime):
            fixed = as_utc(clock)
            self._clock: Callable[[], datetime] | None = lambda: fixed
        else:
            self._clock = clock
        self._clock_checked = False
        self._schema_checked = False
        self.forms_dir = forms
        self.allow_code_tasks = allow_code_tasks
        self.max_cycles = max_cycles
        self._codec = StateCodec()
        self._definitions: dict[int, LoadedDefinition] = {}
        self._workflows: dict[str, _Cached] = {}  # insertion order = least recently used first
        self.cache_size = 256
        self._lock = threading.Lock()
        self._fixed_calendar = calendar
        self._calendars: tuple[int, WorkCalendar] | None = None
        self.clock = Clock(
            calendar=self._calendar, fire=self._fire_signal, close_of_business=close_of_business
        )
        self.script_engine = EngineScriptEngine(
            Sandbox(functions=self._domain_functions()), allow_code=allow_code_tasks, now=self.now
        )
        from ..services.licences import NoProvider

        self.licences: LicenceProvider = licences if licences is not None else NoProvider()
        self._service_plans: dict[int, MaterialPlan] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Release the database connections (after a last WAL checkpoint on SQLite)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upgrade(self, *, simulation: bool = False) -> str:
        """Create or migrate the schema to the newest revision; `simulation` marks a new, empty database."""
        try:
            if simulation and self._has_data():
                raise SimulationError(
                    "a database that already holds data cannot become a simulation database",
                    hint="use a new, empty database for simulations and training",
                )
            migrate.upgrade(self._db)
            with self._write.begin() as session:
                if simulation:
                    session.merge(MetaRow(key="simulation", value="true"))
                elif session.get(MetaRow, "simulation") is None:
                    session.add(MetaRow(key="simulation", value="false"))
        except OperationalError as exc:
            raise _db_error(exc, self.url) from exc
        self._schema_checked = False
        return migrate.head_revision()

    def status(self) -> dict[str, Any]:
        """Schema revision, the newest revision this version knows, and the simulation mark."""
        try:
            current = migrate.current_revision(self._db)
            simulation = None
            if current is not None:
                with self._read() as session:
                    mark = session.get(MetaRow, "simulation")
                    simulation = mark is not None and mark.value == "true"
        except OperationalError as exc:
            raise _db_error(exc, self.url) from exc
        head = migrate.head_revision()
        return {"revision": current, "head": head, "up_to_date": current == head, "simulation": simulation}

    def _has_data(self) -> bool:
        if not inspect(self._db).has_table("hf_definition"):
            return False
        with self._read() as session:
            return bool(session.scalar(select(func.count()).select_from(DefinitionRow)))

    def _ready(self) -> None:
        if self._schema_checked:
            return
        try:
            current = migrate.current_revision(self._db)
        except OperationalError as exc:
            raise _db_error(exc, self.url) from exc
        head = migrate.head_revision()
        if current != head:
            state = (
                "has no hennan_flow schema" if current is None else f"is at revision {current}, not {head}"
            )
            raise SchemaOutOfDateError(f"the database {state}", hint="run: hennan-flow db upgrade")
        self._schema_checked = True

    # -- time -----------------------------------------------------------------------------
    def now(self) -> datetime:
        """The engine's clock: real UTC time, or the simulated clock on a simulation database."""
        if self._clock is None:
            return datetime.now(UTC)
        if not self._clock_checked:
            self._ready()
            with self._read() as session:
                mark = session.get(MetaRow, "simulation")
            if mark is None or mark.value != "true":
                raise SimulationError(
                    "simulated time (--now / clock=) is refused on a database that is not a simulation database",
                    hint="create a simulation database with: hennan-flow db upgrade --simulation (on an empty database)",
                )
            self._clock_checked = True
        return as_utc(self._clock())

    def _domain_functions(self) -> dict[str, Callable[..., Any]]:
        """Functions designer expressions may call: deadlines on the engine's clock and calendar."""

        def workdays(n: int) -> str:
            if not isinstance(n, int) or n < 1:
                raise InputError("workdays(n) needs a whole number n ≥ 1" + _kind_of(n))
            with self._read() as session:
                cal = self._calendar(session)
            day = local_date(self.now())
            return end_of_day(cal.add_workdays(day, n), self.clock.close_of_business).isoformat()

        def natural_days(n: int) -> str:
            if not isinstance(n, int) or n < 1:
                raise InputError("natural_days(n) needs a whole number n ≥ 1" + _kind_of(n))
            return (self.now() + timedelta(days=n)).isoformat()

        def hours(n: int) -> str:
            if not isinstance(n, (int, float)) or n <= 0:
                raise InputError("hours(n) needs a positive number" + _kind_of(n))
            return (self.now() + timedelta(hours=n)).isoformat()

        return {"workdays": workdays, "natural_days": natural_days, "hours": hours}

    # -- calendar -------------------------------------------------------------------------
    def _calendar(self, session: Session | Raw) -> WorkCalendar:
        """The working-day calendar: given to the engine, or packaged data plus the stored overrides."""
        if self._fixed_calendar is not None:
            return self._fixed_calendar
        info = session.info if isinstance(session, Session) else None
        memo = info.get("hf_calendar") if info is not None else None
        if isinstance(memo, WorkCalendar):
            return memo  # one look at the stored versions per transaction
        raw = raw_of(session) if isinstance(session, Session) else session
        found = raw.row("SELECT MAX(id) FROM hf_calendar")
        newest = int(found[0] or 0) if found else 0
        cached = self._calendars
        if cached is None or cached[0] != newest:
            rows = raw.rows("SELECT text, source FROM hf_calendar ORDER BY id")
            overrides = [parse_override(text, source=source) for text, source in rows]
            cached = (newest, WorkCalendar(overrides))
            self._calendars = cached
        if info is not None:
            info["hf_calendar"] = cached[1]
        return cached[1]

    def calendar(self) -> WorkCalendar:
        """The calendar this engine computes deadlines with now."""
        self._ready()
        with self._read() as session:
            return self._calendar(session)

    def load_calendar(self, path: str, *, actor: str | None = None) -> dict[str, Any]:
        """Store a county override file and recompute every open deadline with it (one transaction)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read calendar file {path}: {exc.strerror}") from exc
        override = parse_override(text, source=path)
        changed = 0
        with self._transaction() as session:
            now = self.now()
            if session.scalar(select(CalendarRow).where(CalendarRow.version == override.version)) is not None:
                raise ConfigError(
                    f"calendar version {override.version!r} is already loaded",
                    hint='give the file a new version = "…"',
                )
            session.add(
                CalendarRow(
                    version=override.version,
                    source=Path(path).name,
                    text=text,
                    loaded_at=now,
                    loaded_by=actor,
                )
            )
            session.flush()
            self._event(
                session,
                "calendar.loaded",
                actor=actor,
                at=now,
                detail={"version": override.version, "years": list(override.years)},
            )
            for row in session.scalars(select(DeadlineRow).where(DeadlineRow.closed_at.is_(None))):
                self.clock.fire_due(session, row, now)  # what was due stays issued at its instant
                before = (row.pending, row.promised_due, row.legal_due)
                self.clock.recompute(session, row)
                if (row.pending, row.promised_due, row.legal_due) != before:
                    changed += 1
                    self._event(
                        session,
                        "deadline.recomputed",
                        case=row.case_id,
                        task=row.task_id,
                        step=row.step,
                        at=now,
                        detail={"calendar": override.version, "pending": row.pending},
                    )
            # BPMN timers that waited for calendar data are computed again at the next sweep
            session.execute(
                update(CaseRow)
                .where(CaseRow.state == "open", CaseRow.next_timer_at.is_(None))
                .values(next_timer_at=now, rev=CaseRow.rev + 1)
            )
            version = self._calendar(session).version
        log.info("calendar loaded: version=%s recomputed=%d", override.version, changed)
        return {"version": override.version, "calendar": version, "recomputed": changed}

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[Raw]:
        """A pooled connection for the hot reads (work queues): driver-level, no ORM session.

        SQLite reads in autocommit (each statement sees the last commit); PostgreSQL's implicit
        transaction is rolled back when the connection goes back to the pool.
        """
        self._ready()
        try:
            conn = self._db.raw_connection()
        except OperationalError as exc:
            raise _db_error(exc, self.url) from exc
        try:
            yield Raw(dbapi=conn.dbapi_connection, postgres=self._db.dialect.name == "postgresql")
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One state change: one write transaction (see db.session.transaction)."""
        self._ready()
        try:
            with transaction(
                self._write, committed=self._checkpointer.committed if self._checkpointer else None
            ) as session:
                yield session
        except (OperationalError, self._db.dialect.loaded_dbapi.OperationalError) as exc:
            raise _db_error(exc, self.url) from exc

    def _event(
        self,
        session: Session,
        type_: str,
        *,
        case: str | None = None,
        task: str | None = None,
        step: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        raw = raw_of(session)
        raw.run(
            "INSERT INTO hf_event (case_id, task_id, at, type, step, actor, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                case,
                task,
                raw.ts(at or self.now()),
                type_,
                step,
                actor,
                json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True),
            ),
        )
        log.info("%s case=%s task=%s step=%s", type_, case, task, step)

    # -- definitions ----------------------------------------------------------------------
    def deploy(
        self, *paths: str, forms: str | None = None, allow_findings: bool = False, actor: str | None = None
    ) -> list[Deployment]:
        """Validate and audit the bundles under `paths`, then store each changed one as a new version.

        Nothing is deployed if any file has validation errors (never overridable) or audit errors
        (unless `allow_findings`).
        """
        if not paths:
            raise ConfigError("deploy needs at least one path")
        candidates = collect(
            paths,
            forms_dir=forms or self.forms_dir,
            allow_code=self.allow_code_tasks,
            allow_findings=allow_findings,
        )
        out = []
        with self._transaction() as session:
            now = self.now()
            for c in candidates:
                out.append(self._store(session, c, now, actor))
        return out

    def _store(self, session: Session, c: Candidate, now: datetime, actor: str | None) -> Deployment:
        latest_row = session.scalar(
            select(DefinitionRow)
            .where(DefinitionRow.key == c.key)
            .order_by(DefinitionRow.version.desc())
            .limit(1)
        )
        latest = latest_row.version if latest_row is not None else 0
        if latest_row is not None and latest_row.content_hash == c.content_hash:
            return Deployment(c.key, latest, c.content_hash, c.name, c.file, created=False)
        row = DefinitionRow(
            key=c.key,
            version=latest + 1,
            content_hash=c.content_hash,
            name=c.name,
            source_file=c.file,
            bpmn=c.bpmn,
            forms=json.dumps(c.forms, ensure_ascii=False),
            deployed_at=now,
            deployed_by=actor,
        )
        session.add(row)
        session.flush()
        self._event(
            session,
            "definition.deployed",
            actor=actor,
            at=now,
            detail={"key": c.key, "version": row.version, "content_hash": c.content_hash},
        )
        return Deployment(c.key, row.version, c.content_hash, c.name, c.file, created=True)

    def _definition(self, session: Session, definition_id: int) -> LoadedDefinition:
        loaded = self._definitions.get(definition_id)
        if loaded is None:
            row = session.get(DefinitionRow, definition_id)
            if row is None:
                raise NotFoundError(f"definition {definition_id} not found")
            loaded = load_definition(row.id, row.key, row.version, row.source_file, row.bpmn, row.forms)
            with self._lock:
                self._definitions[definition_id] = loaded
        return loaded

    def bundle(self, key: str, version: int | None = None) -> Bundle:
        """The bundle model (steps, departments, materials, limits) of a deployed definition."""
        self._ready()
        with self._read() as session:
            query = select(DefinitionRow.id).where(DefinitionRow.key == key)
            if version is not None:
                query = query.where(DefinitionRow.version == version)
            found = session.scalar(query.order_by(DefinitionRow.version.desc()).limit(1))
            if found is None:
                raise NotFoundError(f"no deployed bundle {key!r}" + (f" v{version}" if version else ""))
            return self._definition(session, found).bundle

    def definitions(self) -> list[Deployment]:
        """The latest deployed version of every bundle key."""
        self._ready()
        with self._read() as session:
            rows = session.scalars(
                select(DefinitionRow).order_by(DefinitionRow.key, DefinitionRow.version)
            ).all()
        latest: dict[str, DefinitionRow] = {r.key: r for r in rows}
        return [
            Deployment(r.key, r.version, r.content_hash, r.name, r.source_file, True) for r in latest.values()
        ]

    # -- workflows ------------------------------------------------------------------------
    def _load_workflow(self, session: Session, case: CaseRow, definition: LoadedDefinition) -> Any:
        """The case's workflow: the cached object when its revision matches, else read and restored."""
        if case.spiff_version != SPIFF_VERSION:
            raise StateError(
                f"case {case.id} was stored by SpiffWorkflow {case.spiff_version}; this engine runs {SPIFF_VERSION} "
                "and will not guess at a migration",
                hint="run this case with the hennan_flow release that wrote it",
            )
        cached = self._workflows.get(case.id)
        if cached is not None and cached.rev == case.rev:
            workflow = cached.workflow
        else:
            raw = raw_of(session)
            found = raw.row("SELECT wf_state FROM hf_case WHERE id = ?", (case.id,))
            rows = raw.rows("SELECT task_id, doc FROM hf_case_task WHERE case_id = ?", (case.id,))
            workflow = self._codec.load(found[0] if found else "", definition.specs, rows)
        workflow.script_engine = self.script_engine  # never serialized: re-attach on every load
        return workflow

    def _case_snapshot(self, session: Session, case_id: str, *, lock: bool) -> CaseRow | None:
        """The case row as a detached snapshot (state text left out: the cached workflow usually has it)."""
        raw = raw_of(session)
        found = raw.row(
            "SELECT definition_id, key, state, applicant, started_at, ended_at, started_by, rev, spiff_version,"
            " next_timer_at, error FROM hf_case WHERE id = ?"
            + (" FOR UPDATE" if lock and raw.postgres else ""),
            (case_id,),
        )
        if found is None:
            return None
        definition_id, key, state, applicant, started, ended, by, rev, spiff, next_timer_at, error = found
        snapshot = make_snapshot(
            CaseRow,
            id=case_id,
            definition_id=definition_id,
            key=key,
            state=state,
            applicant=applicant,
            started_at=raw.instant(started),
            ended_at=raw.instant(ended),
            started_by=by,
            rev=rev,
            spiff_version=spiff,
            wf_state="",
            next_timer_at=raw.instant(next_timer_at),
            error=error,
        )
        vars(snapshot)["_hf_loaded"] = (state, snapshot.next_timer_at)  # what _persist_case compares against
        return snapshot

    def _persist_case(self, session: Session, case: CaseRow, workflow: Any, *, new: bool = False) -> int:
        """Write the case row and the task fragments a step changed, guarded by the case revision.

        Returns the new revision. Only the columns and fragments that changed are written: every
        indexed column written is an index entry rewritten, every state byte is WAL written.
        """
        raw = raw_of(session)
        dump = self._codec.dump(workflow)
        timer = next_timer(workflow)
        if new:
            raw.run(
                "INSERT INTO hf_case (id, definition_id, key, state, applicant, started_at, ended_at, started_by, rev,"
                " spiff_version, wf_state, next_timer_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL)",
                (
                    case.id,
                    case.definition_id,
                    case.key,
                    case.state,
                    case.applicant,
                    raw.ts(case.started_at),
                    raw.ts(case.ended_at),
                    case.started_by,
                    SPIFF_VERSION,
                    dump.top,
                    raw.ts(timer),
                ),
            )
            rev = 1
        else:
            loaded_state, loaded_timer = vars(case).get("_hf_loaded", (None, None))
            sets, params = ["wf_state = ?", "rev = rev + 1"], [dump.top]
            if case.state != loaded_state:
                sets += ["state = ?", "ended_at = ?"]
                params += [case.state, raw.ts(case.ended_at)]
            if timer != loaded_timer:
                sets.append("next_timer_at = ?")
                params.append(raw.ts(timer))
            sql = f"UPDATE hf_case SET {', '.join(sets)} WHERE id = ? AND rev = ?"
            if raw.run(sql, (*params, case.id, case.rev)) != 1:
                raise StaleDataError(f"case {case.id} changed under this operation")
            rev = case.rev + 1
        if dump.full:  # stored whole: no fragments
            if not new:
                raw.run("DELETE FROM hf_case_task WHERE case_id = ?", (case.id,))
            return rev
        raw.many(
            "INSERT INTO hf_case_task (case_id, task_id, doc) VALUES (?, ?, ?)"
            " ON CONFLICT (case_id, task_id) DO UPDATE SET doc = excluded.doc",
            [(case.id, task_id, doc) for task_id, doc in dump.changed.items()],
        )
        for start in range(0, len(dump.removed), 500):
            gone = dump.removed[start : start + 500]
            raw.run(
                f"DELETE FROM hf_case_task WHERE case_id = ? AND task_id IN ({raw.placeholders(len(gone))})",
                (case.id, *gone),
            )
        return rev

    def _remember(self, case_id: str, rev: int, workflow: Any, *, open_: bool) -> None:
        """Keep an open case's workflow for its next step (least recently used out first).

        A finished case is dropped: nothing will advance it again, and every kept workflow is a
        graph of objects the garbage collector walks.
        """
        with self._lock:
            self._workflows.pop(case_id, None)
            if not open_:
                return
            self._workflows[case_id] = _Cached(rev, workflow)
            while len(self._workflows) > self.cache_size:
                self._workflows.pop(next(iter(self._workflows)))

    def _forget(self, case_id: str) -> None:
        with self._lock:
            self._workflows.pop(case_id, None)

    def _sync_tasks(
        self,
        session: Session,
        case: CaseRow,
        definition: LoadedDefinition,
        workflow: Any,
        now: datetime,
        actor: str | None,
    ) -> list[TaskRow]:
        """Mirror SpiffWorkflow's ready user steps into the work queues, with audit events.

        `case` is a snapshot: a finished case gets state and ended_at set on it for `_persist_case`.
        Returns the steps that became ready (snapshots).
        """
        raw = raw_of(session)
        ready = {t.id: t for t in ready_user_tasks(workflow)}
        open_rows = raw.rows(
            "SELECT id, step FROM hf_task WHERE case_id = ? AND state IN ('ready', 'paused')", (case.id,)
        )
        for task_id, step_id in open_rows:
            if task_id in ready:
                continue
            raw.run(
                "UPDATE hf_task SET state = 'cancelled', ended_at = ? WHERE id = ?", (raw.ts(now), task_id)
            )
            self._event(session, "task.cancelled", case=case.id, task=task_id, step=step_id, at=now)
            self._on_task_closed(
                session, case, make_snapshot(TaskRow, id=task_id, case_id=case.id, step=step_id), now
            )
        known = {task_id for task_id, _ in open_rows}
        added: list[TaskRow] = []
        for task_id, t in ready.items():
            if task_id in known:
                continue
            if t.step in definition.cyclic_steps:  # only a step on a loop can come round again
                found = raw.row(
                    "SELECT COUNT(*) FROM hf_task WHERE case_id = ? AND step = ?", (case.id, t.step)
                )
                cycles = int(found[0]) if found else 0
                if cycles >= self.max_cycles:
                    raise StateError(
                        f"step {t.step!r} would come round for the {cycles + 1}th time in case {case.id}; "
                        f"the limit is {self.max_cycles} rework cycles",
                        hint="close this case and start a new one, or raise Engine(max_cycles=…) "
                        "(SpiffWorkflow 3.2.0 cannot run much past ~200 cycles)",
                    )
            step = definition.bundle.step(t.step)
            row = make_snapshot(
                TaskRow,
                id=task_id,
                case_id=case.id,
                step=t.step,
                name=t.name,
                department=step.department if step else None,
                state="ready",
                ready_at=now,
            )
            raw.run(
                "INSERT INTO hf_task (id, case_id, step, name, department, state, ready_at) VALUES (?, ?, ?, ?, ?,"
                " 'ready', ?)",
                (task_id, case.id, t.step, t.name, row.department, raw.ts(now)),
            )
            self._event(session, "task.ready", case=case.id, task=task_id, step=t.step, at=now)
            self._on_task_ready(session, case, definition, row, now)
            added.append(row)
        check_depth(workflow)
        if finished(workflow):
            case.state, case.ended_at = "completed", now
            self._event(session, "case.completed", case=case.id, actor=actor, at=now)
            self._on_case_closed(session, case, now)
        if session.new or session.dirty or session.deleted:
            session.flush()  # what hooks added through the ORM, before the raw statements that follow
        return added

    def _ready_tasks(self, session: Session, rows: list[TaskRow], now: datetime) -> tuple[Task, ...]:
        """Queue entries for steps that just became ready, with the deadlines this transaction stored
        (in the queue's order: they share their ready instant, so by id)."""
        if not rows:
            return ()
        rows = sorted(rows, key=lambda r: r.id)
        views = self.clock.fresh_views(session, [r.id for r in rows], now)
        return tuple(_task_of_row(r, deadlines=views.get(r.id)) for r in rows)

    # -- the clock ----------------------------------------------------------------------
    def _on_task_ready(
        self, session: Session, case: CaseRow, definition: LoadedDefinition, task: TaskRow, now: datetime
    ) -> None:
        step = definition.bundle.step(task.step)
        if step is None:
            return
        self.clock.start(
            session,
            owner=task.id,
            case_id=case.id,
            task_id=task.id,
            scope="step",
            step=task.step,
            kind=step.kind,
            limit=step.time_limit,
            accepted_at=now,
        )
        self._services_task_ready(session, case, definition, task, now)

    def _on_case_started(
        self, session: Session, case: CaseRow, definition: LoadedDefinition, now: datetime
    ) -> None:
        self.clock.start(
            session,
            owner=case.id,
            case_id=case.id,
            task_id=None,
            scope="case",
            step=None,
            kind="promised",
            limit=definition.bundle.time_limit,
            accepted_at=now,
        )

    def _before_complete(
        self,
        session: Session,
        case: CaseRow,
        definition: LoadedDefinition,
        task: TaskRow,
        data: Mapping[str, Any],
        now: datetime,
    ) -> None:
        """Checks a step must pass before its result may be issued: the materials it still waits for."""
        self._services_before_complete(session, case, definition, task, now)

    def _on_task_closed(self, session: Session, case: CaseRow, task: TaskRow, now: datetime) -> None:
        """A step instance ended (completed or cancelled); `case` and `task` are read-only snapshots."""
        self.clock.close(session, task.id, now)
        self._services_task_closed(session, case, task, now)

    def _on_case_closed(self, session: Session, case: CaseRow, now: datetime) -> None:
        """A case ended; `case` is a read-only snapshot."""
        self.clock.close(session, case.id, now)
        self._services_case_closed(session, case, now)

    def pause(self, task_id: str, *, reason: str, actor: str | None = None) -> Task:
        """Stop a ready step's clock (补正 supplement, 特别程序 special_procedure, 挂起 suspended)."""
        if reason not in PAUSE_REASONS:
            raise InputError(
                f"unknown pause reason {reason!r}", hint=f"use one of: {', '.join(PAUSE_REASONS)}"
            )
        with self._transaction() as session:
            now = self.now()
            row = self._task_row(session, task_id)
            if row.state != "ready":
                raise StateError(
                    f"step {row.step!r} is {row.state}; only a running (ready) step can be paused"
                )
            row.state = "paused"
            session.add(
                PauseRow(case_id=row.case_id, task_id=row.id, reason=reason, started_at=now, started_by=actor)
            )
            deadline = session.get(DeadlineRow, row.id)
            if deadline is not None:
                self.clock.pause(session, deadline, now)
            if reason in CASE_STOPPING_REASONS:
                case_deadline = session.get(DeadlineRow, row.case_id)
                if (
                    case_deadline is not None
                    and case_deadline.paused_since is None
                    and case_deadline.closed_at is None
                ):
                    self.clock.pause(session, case_deadline, now)
            self._event(
                session,
                "task.paused",
                case=row.case_id,
                task=row.id,
                step=row.step,
                actor=actor,
                at=now,
                detail={"reason": reason},
            )
            return self._task_of(session, row)

    def resume(self, task_id: str, *, actor: str | None = None) -> Task:
        """Restart a paused step's clock; its deadlines move by the working days it was paused."""
        with self._transaction() as session:
            now = self.now()
            row = self._task_row(session, task_id)
            if row.state != "paused":
                raise StateError(f"step {row.step!r} is {row.state}, not paused; there is nothing to resume")
            pause = session.scalar(
                select(PauseRow).where(PauseRow.task_id == row.id, PauseRow.ended_at.is_(None))
            )
            assert pause is not None
            pause.ended_at, pause.ended_by = now, actor
            row.state = "ready"
            session.flush()
            deadline = session.get(DeadlineRow, row.id)
            if deadline is not None:
                self.clock.resume(session, deadline)
            case_deadline = session.get(DeadlineRow, row.case_id)
            if case_deadline is not None and case_deadline.paused_since is not None:
                still = session.scalar(
                    select(func.count())
                    .select_from(PauseRow)
                    .where(
                        PauseRow.case_id == row.case_id,
                        PauseRow.ended_at.is_(None),
                        PauseRow.reason.in_(CASE_STOPPING_REASONS),
                    )
                )
                if not still:
                    self.clock.resume(session, case_deadline)
            self._event(
                session,
                "task.resumed",
                case=row.case_id,
                task=row.id,
                step=row.step,
                actor=actor,
                at=now,
                detail={"reason": pause.reason},
            )
            return self._task_of(session, row)

    def extend(
        self, task_id: str, *, days: int, approver: str, reason: str, actor: str | None = None
    ) -> Task:
        """延长审批: move a step's promised and legal deadlines (and its signals) by `days` working days."""
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise InputError(f"an extension needs a whole number of working days ≥ 1, not {days!r}")
        if not (approver or "").strip():
            raise InputError("an extension needs its approver (审批负责人)", hint="pass --approver NAME")
        if not (reason or "").strip():
            raise InputError(
                "an extension needs its reason (延长理由), which the applicant is told",
                hint="pass --reason TEXT",
            )
        with self._transaction() as session:
            now = self.now()
            row = self._task_row(session, task_id)
            if row.state not in {"ready", "paused"}:
                raise StateError(f"step {row.step!r} is {row.state}; only a running step can be extended")
            deadline = session.get(DeadlineRow, row.id)
            if deadline is None:
                raise StateError(f"step {row.step!r} has no time limit to extend")
            self.clock.fire_due(session, deadline, now)  # a passed deadline never moves
            session.add(
                ExtensionRow(
                    case_id=row.case_id,
                    task_id=row.id,
                    days=days,
                    approver=approver.strip(),
                    reason=reason.strip(),
                    at=now,
                    actor=actor,
                )
            )
            session.flush()
            self.clock.recompute(session, deadline)
            self._event(
                session,
                "task.extended",
                case=row.case_id,
                task=row.id,
                step=row.step,
                actor=actor,
                at=now,
                detail={"days": days, "approver": approver.strip()},
            )
            return self._task_of(session, row)

    def _task_row(self, session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, task_id)
        if row is None:
            raise NotFoundError(f"no task {task_id!r}", hint="list tasks with: hennan-flow task list")
        session.get(CaseRow, row.case_id, with_for_update=True)  # one writer per case
        session.refresh(row)
        return row

    # -- cases ----------------------------------------------------------------------------
    def start_case(
        self,
        key: str,
        *,
        applicant: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Case:
        """Start a case of the latest deployed version of `key` and run it to its first wait state."""
        if data is not None and not isinstance(data, Mapping):
            raise InputError("case data must be a JSON object")
        if applicant is not None and not isinstance(applicant, Mapping):
            raise InputError("applicant must be a JSON object")
        case_id = new_id()  # time-ordered: see ids.py
        try:
            with self._transaction() as session:
                now = self.now()
                raw = raw_of(session)
                latest = raw.row(
                    "SELECT id, version FROM hf_definition WHERE key = ? ORDER BY version DESC LIMIT 1",
                    (key,),
                )
                if latest is None:
                    known = sorted({k for (k,) in raw.rows("SELECT DISTINCT key FROM hf_definition")})
                    raise NotFoundError(
                        f"no bundle with key {key!r} is deployed",
                        hint=f"deployed keys: {', '.join(known)}"
                        if known
                        else "deploy it first: hennan-flow deploy PATH",
                    )
                definition_id, version = latest
                definition = self._definition(session, definition_id)
                workflow = new_workflow(definition.specs, self.script_engine, dict(data or {}))
                advance(workflow)
                case = CaseRow(
                    id=case_id,
                    definition_id=definition_id,
                    key=key,
                    state="open",
                    applicant=json.dumps(dict(applicant or {}), ensure_ascii=False),
                    started_at=now,
                    ended_at=None,
                    started_by=actor,
                    rev=1,
                    spiff_version=SPIFF_VERSION,
                    wf_state="",
                )
                rev = self._persist_case(session, case, workflow, new=True)
                self._event(
                    session,
                    "case.started",
                    case=case_id,
                    actor=actor,
                    at=now,
                    detail={"key": key, "version": version},
                )
                self._on_case_started(session, case, definition, now)
                ready = self._ready_tasks(
                    session, self._sync_tasks(session, case, definition, workflow, now, actor), now
                )
                if case.state != "open":
                    raw.run(
                        "UPDATE hf_case SET state = ?, ended_at = ? WHERE id = ?",
                        (case.state, raw.ts(case.ended_at), case_id),
                    )
        except BaseException:
            self._forget(case_id)
            raise
        self._remember(case_id, rev, workflow, open_=case.state == "open")
        return Case(
            id=case_id,
            key=key,
            version=version,
            state=case.state,
            started_at=now,
            ended_at=case.ended_at,
            ready=ready,
        )

    def case(self, case_id: str) -> Case:
        """A case with its timeline of events."""
        self._ready()
        with self._read() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise NotFoundError(f"no case {case_id!r}", hint="list cases with: hennan-flow case list")
            version = session.scalar(
                select(DefinitionRow.version).where(DefinitionRow.id == row.definition_id)
            )
            events = session.scalars(
                select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.id)
            ).all()
            return Case(
                id=row.id,
                key=row.key,
                version=version or 0,
                state=row.state,
                started_at=as_utc(row.started_at),
                ended_at=as_utc(row.ended_at),
                events=tuple(_event_of(e) for e in events),
                deadlines=self._case_deadlines(session, row),
            )

    def _case_deadlines(self, session: Session, case: CaseRow) -> dict[str, Any] | None:
        return self.clock.view(raw_of(session), case.id, self.now())

    def cases(self, *, state: str | None = None, key: str | None = None) -> list[Case]:
        """Cases, newest first (without their timelines)."""
        if state not in {None, "open", "completed", "terminated"}:
            raise InputError(f"unknown case state {state!r}", hint="use open, completed or terminated")
        self._ready()
        with self._read() as session:
            query = select(CaseRow, DefinitionRow.version).join(
                DefinitionRow, DefinitionRow.id == CaseRow.definition_id
            )
            if state:
                query = query.where(CaseRow.state == state)
            if key:
                query = query.where(CaseRow.key == key)
            rows = session.execute(query.order_by(CaseRow.started_at.desc(), CaseRow.id)).all()
            return [
                Case(
                    id=r.id,
                    key=r.key,
                    version=v,
                    state=r.state,
                    started_at=as_utc(r.started_at),
                    ended_at=as_utc(r.ended_at),
                )
                for r, v in rows
            ]

    def case_data(self, case_id: str) -> dict[str, Any]:
        """The case's current process data (what earlier steps entered and issued)."""
        self._ready()
        with self._read() as session:
            case = session.get(CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"no case {case_id!r}")
            definition = self._definition(session, case.definition_id)
            workflow = self._load_workflow(session, case, definition)
            if workflow.is_completed():
                return dict(workflow.data)
            data: dict[str, Any] = {}
            for t in ready_user_tasks(workflow):
                task = workflow.get_task_from_id(uuid.UUID(t.id))
                data.update(task.data)
            return data or dict(workflow.last_task.data if workflow.last_task else {})

    # -- tasks ----------------------------------------------------------------------------
    def tasks(
        self, *, case: str | None = None, department: str | None = None, state: str | None = "ready"
    ) -> list[Task]:
        """The work queue: user steps by case, department (lane) and state (default: ready)."""
        if state not in {None, "ready", "paused", "completed", "cancelled"}:
            raise InputError(
                f"unknown task state {state!r}", hint="use ready, paused, completed or cancelled"
            )
        self._ready()
        where, params = [], []
        for column, value in (("case_id", case), ("department", department), ("state", state)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        with self._reading() as raw:
            return self._tasks_where(raw, " AND ".join(where) or "1 = 1", params)

    def _tasks_where(self, raw: Raw, where: str, params: list[Any]) -> list[Task]:
        rows = raw.rows(
            "SELECT id, case_id, step, name, department, state, ready_at, ended_at, actor FROM hf_task"
            f" WHERE {where} ORDER BY ready_at, id",
            params,
        )
        views = self.clock.views(raw, [r[0] for r in rows], self.now())
        return [
            Task(
                id=tid,
                case=cid,
                step=step,
                name=name,
                department=dept,
                state=st,
                ready_at=raw.instant(ready) or datetime.min.replace(tzinfo=UTC),
                ended_at=raw.instant(ended),
                actor=actor,
                deadlines=views.get(tid),
            )
            for tid, cid, step, name, dept, st, ready, ended, actor in rows
        ]

    def render_form(self, task_id: str) -> str:
        """The step's form as an accessible HTML fragment for portals, beside the applicant's checklist."""
        from ..stepforms.render import render_form

        task = self.task(task_id)
        with self._read() as session:
            case = session.get(CaseRow, task.case)
            assert case is not None
            definition = self._definition(session, case.definition_id)
        step = definition.bundle.step(task.step)
        if step is None:
            raise NotFoundError(f"step {task.step!r} is not in the bundle {definition.key!r}")
        return render_form(
            schema=definition.form_of(task.step),
            step=step,
            bundle=definition.bundle,
            data=self.case_data(task.case),
            task_id=task.id,
        )

    def task(self, task_id: str) -> Task:
        """One step instance, with its deadlines."""
        self._ready()
        with self._reading() as raw:
            found = self._tasks_where(raw, "id = ?", [task_id])
        if not found:
            raise NotFoundError(f"no task {task_id!r}", hint="list tasks with: hennan-flow task list")
        return found[0]

    def _task_of(self, session: Session, row: TaskRow) -> Task:
        """A Task (with deadlines) for an ORM task row of the rarer paths (pause, resume, extend)."""
        return _task_of_row(row, deadlines=self.clock.view(raw_of(session), row.id, self.now()))

    def complete_task(
        self, task_id: str, *, data: Mapping[str, Any] | None = None, actor: str | None = None
    ) -> Task:
        """Complete a ready step with its form data and run the case to its next wait state.

        Of two concurrent completions of the same step exactly one wins; the other gets
        `ConflictError`. Completions of different parallel steps of one case both succeed.
        """
        payload = dict(data or {}) if data is None or isinstance(data, Mapping) else None
        if payload is None:
            raise InputError("task data must be a JSON object")
        for _attempt in range(_RETRIES):
            try:
                return self._complete_once(task_id, payload, actor)
            except StaleDataError:
                continue  # another step of the same case changed it first: read again
        raise ConflictError(f"the case of task {task_id} kept changing under this completion; try again")

    def _complete_once(self, task_id: str, data: dict[str, Any], actor: str | None) -> Task:
        case_id = ""
        try:
            with self._transaction() as session:
                now = self.now()
                raw = raw_of(session)
                query = (
                    "SELECT case_id, state, step, name, department, ready_at, actor FROM hf_task WHERE id = ?"
                )
                found = raw.row(query, (task_id,))
                if found is None:
                    raise NotFoundError(f"no task {task_id!r}", hint="list tasks with: hennan-flow task list")
                case_id = found[0]
                case = self._case_snapshot(session, case_id, lock=True)  # one writer per case
                assert case is not None
                # PostgreSQL: read again after the case lock, to see what another worker committed
                # meanwhile (SQLite's BEGIN IMMEDIATE took the write lock before the first read)
                if raw.postgres:
                    found = raw.row(query, (task_id,))
                    assert found is not None
                _, state, step_id, name, department, ready_at, done_by = found
                if state == "completed":
                    raise ConflictError(
                        f"step {step_id!r} of case {case_id} was already completed"
                        + (f" by {done_by}" if done_by else ""),
                        hint="reload the work queue: hennan-flow task list",
                    )
                if state != "ready":
                    raise StateError(
                        f"task {task_id} (step {step_id!r}) is {state}, not ready",
                        hint="resume it first"
                        if state == "paused"
                        else "list ready tasks with: hennan-flow task list",
                    )
                row = make_snapshot(
                    TaskRow,
                    id=task_id,
                    case_id=case_id,
                    step=step_id,
                    name=name,
                    department=department,
                    state="completed",
                    ready_at=raw.instant(ready_at),
                    ended_at=now,
                    actor=actor,
                )
                definition = self._definition(session, case.definition_id)
                definition.check_data(step_id, data)
                self._before_complete(session, case, definition, row, data, now)
                workflow = self._load_workflow(session, case, definition)
                complete(workflow, task_id, data)
                raw.run(
                    "UPDATE hf_task SET state = 'completed', ended_at = ?, actor = ? WHERE id = ?",
                    (raw.ts(now), actor, task_id),
                )
                self._event(
                    session, "task.completed", case=case_id, task=task_id, step=step_id, actor=actor, at=now
                )
                self._on_task_closed(session, case, row, now)
                added = self._sync_tasks(session, case, definition, workflow, now, actor)
                rev = self._persist_case(session, case, workflow)
                ready = self._ready_tasks(session, added, now)
        except BaseException:
            if case_id:
                self._forget(case_id)
            raise
        self._remember(case_id, rev, workflow, open_=case.state == "open")
        return _task_of_row(row, ready=ready)

    # -- BPMN timers ----------------------------------------------------------------------
    def due_timer_cases(self, *, limit: int = 100) -> list[str]:
        """Open cases whose next BPMN timer is due (indexed on next_timer_at)."""
        self._ready()
        now = self.now()
        with self._read() as session:
            return list(
                session.scalars(
                    select(CaseRow.id)
                    .where(CaseRow.next_timer_at <= now, CaseRow.state == "open")
                    .order_by(CaseRow.next_timer_at)
                    .limit(limit)
                )
            )

    def fire_timers(self, case_id: str) -> bool:
        """Load a case and let its due BPMN timers fire (one transaction); False if none was due."""
        try:
            with self._transaction() as session:
                now = self.now()
                case = self._case_snapshot(session, case_id, lock=True)
                if case is None:
                    raise NotFoundError(f"no case {case_id!r}")
                if case.state != "open" or case.next_timer_at is None or case.next_timer_at > now:
                    return False
                definition = self._definition(session, case.definition_id)
                workflow = self._load_workflow(session, case, definition)
                advance(workflow)
                self._event(session, "timer.fired", case=case_id, at=now)
                self._sync_tasks(session, case, definition, workflow, now, None)
                rev = self._persist_case(session, case, workflow)
        except BaseException:
            self._forget(case_id)
            raise
        self._remember(case_id, rev, workflow, open_=case.state == "open")
        return True

    # -- supervision (supervision.py and sweeper.py own the logic) ----------------------------

    def sweep(
        self,
        *,
        batch_size: int = 500,
        budget: float = 30.0,
        lease: float = 60.0,
        timers: bool = True,
        worker: str | None = None,
        stop: Callable[[], bool] | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> SweepResult:
        """Issue every due signal and card exactly once (at its due instant) and fire due BPMN timers.

        Safe in many processes at once: claims are atomic and carry a `lease` (seconds) that other
        sweepers reap when it runs out. Work is done in batches of `batch_size` until nothing is due
        or `budget` seconds have passed (`complete=False`; the next sweep goes on). See sweeper.py.
        """
        from ..supervision.sweeper import Sweeper

        self._ready()
        return Sweeper(
            self,
            batch_size=batch_size,
            budget=budget,
            lease=lease,
            timers=timers,
            worker=worker,
            stop=stop,
            on_batch=on_batch,
        ).run()

    def cards(
        self, *, state: str | None = None, case: str | None = None, color: str | None = None
    ) -> list[Card]:
        """Yellow and red cards, oldest first; `state="open"` means not closed yet."""
        from ..supervision.cards import list_cards

        self._ready()
        with self._read() as session:
            return list_cards(session, state=state, case=case, color=color)

    def card(self, card_id: str) -> Card:
        """A card with its supervision record."""
        from ..supervision.cards import get_card

        self._ready()
        with self._read() as session:
            return get_card(session, card_id)

    def advance_card(
        self,
        card_id: str,
        *,
        to: str,
        note: str,
        conclusion: str | None = None,
        actor: str | None = None,
    ) -> Card:
        """Move a card's record: open → verifying (核查) → rectifying (整改) → closed, with a note.

        Closing needs a conclusion: 不属实 or 系统误报 from verifying, 属实 from rectifying. Any
        other move raises `StateError`. Records are closed, never deleted.
        """
        from ..supervision.cards import advance, get_card

        try:
            with self._transaction() as session:
                now = self.now()

                def lock_case(case_id: str) -> None:
                    session.get(CaseRow, case_id, with_for_update=True)

                advance(
                    session,
                    card_id,
                    to=to,
                    note=note,
                    conclusion=conclusion,
                    actor=actor,
                    now=now,
                    lock_case=lock_case,
                )
                return get_card(session, card_id)
        except StaleDataError as exc:
            raise ConflictError(
                f"card {card_id} was changed meanwhile", hint="show it again and retry"
            ) from exc

    def events(self, *, after: int = 0, limit: int = 100) -> list[OutboxEvent]:
        """Outbox events (signals fired, cards issued, records moved) with id > `after`, oldest first.

        Keep the last id as the cursor: reading again with it returns only newer events, so a
        consumer sees each event once. Ids become visible in increasing order.
        """
        from ..supervision.cards import read_events

        self._ready()
        with self._read() as session:
            return read_events(session, after=after, limit=limit)

    def _lead_of(self, session: Session, definition_id: int) -> str | None:
        """The lead department of a deployed bundle: who handles its case-level yellow cards."""
        return self._definition(session, definition_id).bundle.lead

    def _fire_signal(self, session: Session, signal: SignalRow, now: datetime) -> None:
        """A step or case ended with this signal due: it fires in this transaction, at its due instant."""
        from ..supervision.cards import issue

        issue(session, [signal], now, claimer=None, lead_of=self._lead_of)

    def mark_case_error(self, case_id: str, message: str) -> None:
        """A case that cannot advance (e.g. a refused expression in a timer) is marked, with an event."""
        with self._transaction() as session:
            case = session.get(CaseRow, case_id, with_for_update=True)
            if case is None:
                raise NotFoundError(f"no case {case_id!r}")
            case.error = message
            case.next_timer_at = None
            self._event(session, "case.error", case=case_id, detail={"message": message})
        self._forget(case_id)

    def supervision_report(
        self, *, start: date | None = None, end: date | None = None, department: str | None = None
    ) -> SupervisionReport:
        """The 红黄牌 supervision report: efficiency per department and bundle, cards, records, 好差评.

        Steps belong to the period [start, end] (local dates, either open) by the day they were
        accepted; `department` keeps one lane code. The figures stand at the engine's clock and are
        computed from rows read in one read transaction (efficiency.py has every definition). An
        empty period gives a report with `empty: true`; a reversed period and an unknown department
        raise InputError / NotFoundError.
        """
        from ..supervision.facts import Scope, read_facts
        from ..supervision.figures import build_report
        from ..supervision.review_figures import summary

        scope = Scope(start=start, end=end, department=department)
        self._ready()
        now = self.now()
        with self._read() as session:
            facts = read_facts(session, scope, bundle_of=lambda i: self._definition(session, i).bundle)
            calendar = self._calendar(session)
            reviews = summary(session, start=start, end=end, department=department, now=now)
        return build_report(facts, scope, now=now, calendar=calendar, reviews=reviews)

    # -- services (告知承诺, 容缺, e-licences, 好差评) ------------------------------------------------
    # commitments.py, tolerance.py, licences.py and reviews.py own the logic (docs/services.md); the
    # hooks above call the _services_* methods, the sweeper calls _fire_service_signals.

    @staticmethod
    def _applicant_of(case: CaseRow) -> dict[str, Any]:
        """The applicant JSON of a case (personal data: never logged)."""
        try:
            found = json.loads(case.applicant or "{}")
        except json.JSONDecodeError:
            return {}
        return found if isinstance(found, dict) else {}

    def _service_plan(self, definition: LoadedDefinition) -> MaterialPlan:
        """What the audit makes of each step's materials, once per definition."""
        plan = self._service_plans.get(definition.id)
        if plan is None:
            from ..services.tolerance import plan_of

            plan = plan_of(definition.bundle)
            with self._lock:
                self._service_plans[definition.id] = plan
        return plan

    def _services_task_ready(
        self, session: Session, case: CaseRow, definition: LoadedDefinition, task: TaskRow, now: datetime
    ) -> None:
        """A step was accepted: commitments signed, e-licences fetched, tolerated materials awaited."""
        plan = self._service_plan(definition)
        has_intake = '"intake"' in (case.applicant or "")
        step_plan = plan.of(task.step)
        if step_plan is None and not has_intake:
            return  # the common case: nothing to do, nothing parsed
        from ..services import commitments, licences, tolerance

        applicant = self._applicant_of(case)
        intake = tolerance.intake_of(applicant, plan)  # a bad intake refuses the case's start
        if step_plan is None:
            return
        if step_plan.commitments:
            commitments.open_for_step(
                session,
                case_id=case.id,
                task_id=task.id,
                step=task.step,
                department=task.department,
                materials=step_plan.commitments,
                key=commitments.applicant_key(session, applicant),
                declined=intake.declined,
                now=now,
                actor=None,
                event=self._event,
            )
        if step_plan.licences:
            fetch_now = isinstance(self.licences, licences.NoProvider)  # nothing to wait for
            if not fetch_now:
                self._fetch_after_commit(session, task.id)
            for check in licences.record(
                session,
                provider=self.licences,
                case_id=case.id,
                task_id=task.id,
                step=task.step,
                materials=step_plan.licences,
                applicant=applicant,
                now=now,
                fetch_now=fetch_now,
            ):
                self._event(
                    session,
                    f"licence.{check.state}",
                    case=case.id,
                    task=task.id,
                    step=task.step,
                    at=now,
                    detail={
                        "check": check.id,
                        "material": check.material,
                        "provider": check.provider,
                        "code": check.error_code,
                    },
                )
        tolerated = [m for m in step_plan.tolerable if m.id in intake.missing]
        if tolerated:
            tolerance.open_for_step(
                session,
                case_id=case.id,
                task_id=task.id,
                step=task.step,
                materials=tolerated,
                calendar=self._calendar(session),
                close=self.clock.close_of_business,
                now=now,
                actor=None,
                event=self._event,
            )

    def _fetch_after_commit(self, session: Session, task_id: str) -> None:
        """Ask the licence provider for this step's checks once the acceptance has committed.

        No lock (the case's, the outbox's) is held while a provider answers. A failure here leaves
        the checks pending (blocking, retryable with verify_licences); it never undoes the commit.
        """
        from sqlalchemy import event

        tasks: list[str] = session.info.setdefault("hf_licence_tasks", [])
        if not tasks:

            def after_commit(committed: Session) -> None:
                for pending in committed.info.pop("hf_licence_tasks", []):
                    try:
                        self.verify_licences(pending)
                    except Exception as exc:  # the acceptance stands; the checks stay pending
                        log.warning(
                            "e-licence checks of task %s stay pending: %s", pending, type(exc).__name__
                        )

            event.listen(session, "after_commit", after_commit, once=True)
        tasks.append(task_id)

    def _services_before_complete(
        self, session: Session, case: CaseRow, definition: LoadedDefinition, task: TaskRow, now: datetime
    ) -> None:
        """The step's result waits for tolerated, refused-commitment and unverified e-licence materials."""
        step_plan = self._service_plan(definition).of(task.step)
        if step_plan is None:
            return
        missing = self._case_materials(session, task=task.id, plan=step_plan).missing
        if missing:
            raise StateError(
                f"step {task.step!r} of case {case.id} cannot issue its result yet; it waits for: "
                + "; ".join(m.line() for m in missing),
                hint=f"hand them in: hennan-flow material supply {task.id} MATERIAL"
                + (
                    f"; retry the e-licence checks: hennan-flow material verify {task.id}"
                    if any(m.kind == "licence" for m in missing)
                    else ""
                ),
            )

    def _services_task_closed(self, session: Session, case: CaseRow, task: TaskRow, now: datetime) -> None:
        """A decision starts the commitments' verification clocks; a cancelled step voids what waited."""
        step_plan = self._service_plan(self._definition(session, case.definition_id)).of(task.step)
        if step_plan is None:
            return
        from ..services import commitments, tolerance

        if task.state == "completed":
            if step_plan.commitments:
                commitments.start_verification(
                    session, self.clock, commitments.rows_of_task(session, task.id), now=now
                )
            return
        if step_plan.commitments:
            commitments.void_for_task(session, task.id, now=now, event=self._event)
        if step_plan.tolerable:
            tolerance.void_for_task(session, task.id, now=now, event=self._event)

    def _services_case_closed(self, session: Session, case: CaseRow, now: datetime) -> None:
        """A case ended: nothing it still awaited (容缺) can lapse any more."""
        plan = self._service_plan(self._definition(session, case.definition_id))
        if not any(s.tolerable for s in plan.steps.values()):
            return
        from ..db.models import ToleranceRow
        from ..services.tolerance import void_for_task

        for (task_id,) in session.execute(
            select(ToleranceRow.task_id).where(
                ToleranceRow.case_id == case.id, ToleranceRow.state == "missing"
            )
        ).all():
            void_for_task(session, task_id, now=now, event=self._event)

    def _case_materials(
        self,
        session: Session,
        *,
        case: str | None = None,
        task: str | None = None,
        plan: StepPlan | None = None,
    ) -> CaseMaterials:
        """The commitments, tolerated materials and e-licence checks of a case or step (what `plan` has)."""
        from ..db.models import CommitmentRow, LicenceCheckRow, ToleranceRow
        from ..services.commitments import commitment_of
        from ..services.licences import check_of
        from ..services.tolerance import CaseMaterials, tolerance_of

        def rows(model: Any, wanted: bool) -> list[Any]:
            if not wanted:
                return []
            query = select(model)
            if case is not None:
                query = query.where(model.case_id == case)
            if task is not None:
                query = query.where(model.task_id == task)
            return list(session.scalars(query.order_by(model.step, model.material, model.id)))

        return CaseMaterials(
            commitments=tuple(
                commitment_of(r) for r in rows(CommitmentRow, plan is None or bool(plan.commitments))
            ),
            tolerated=tuple(
                tolerance_of(r) for r in rows(ToleranceRow, plan is None or bool(plan.tolerable))
            ),
            licences=tuple(check_of(r) for r in rows(LicenceCheckRow, plan is None or bool(plan.licences))),
        )

    def _lock_case(self, session: Session, case_id: str) -> CaseRow:
        """One writer per case (as every engine operation): lock the case row and read it."""
        row = session.execute(
            select(CaseRow)
            .where(CaseRow.id == case_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no case {case_id!r}", hint="list cases with: hennan-flow case list")
        return row

    def _open_task(self, session: Session, task_id: str) -> tuple[str, str, str, str | None]:
        """(case id, step, state, department) of a task, its case locked."""
        found = session.execute(select(TaskRow.case_id).where(TaskRow.id == task_id)).first()
        if found is None:
            raise NotFoundError(f"no task {task_id!r}", hint="list tasks with: hennan-flow task list")
        self._lock_case(session, found[0])
        row = session.execute(
            select(TaskRow.case_id, TaskRow.step, TaskRow.state, TaskRow.department).where(
                TaskRow.id == task_id
            )
        ).one()
        return row[0], row[1], row[2], row[3]

    def _terminate_case(
        self,
        session: Session,
        case_id: str,
        *,
        at: datetime,
        reason: str,
        detail: Mapping[str, Any],
        actor: str | None = None,
    ) -> bool:
        """终止办理: the case becomes terminated at `at`, its open steps cancelled, its clocks stopped."""
        from ..clock.instants import local_iso
        from ..db.models import PauseRow
        from ..supervision.cards import publish

        found = session.execute(
            select(CaseRow.definition_id, CaseRow.key, CaseRow.applicant, CaseRow.started_by).where(
                CaseRow.id == case_id, CaseRow.state == "open"
            )
        ).first()
        if found is None:
            return False
        session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id, CaseRow.state == "open")
            .values(state="terminated", ended_at=at, next_timer_at=None, rev=CaseRow.rev + 1)
            .execution_options(synchronize_session=False)
        )
        snapshot = CaseRow(
            id=case_id,
            definition_id=found[0],
            key=found[1],
            state="terminated",
            applicant=found[2],
            started_by=found[3],
            ended_at=at,
        )
        open_tasks = session.execute(
            select(TaskRow.id, TaskRow.step, TaskRow.department, TaskRow.ready_at)
            .where(TaskRow.case_id == case_id, TaskRow.state.in_(("ready", "paused")))
            .order_by(TaskRow.ready_at, TaskRow.id)
        ).all()
        for task_id, step, department, ready_at in open_tasks:
            ended = max(at, as_utc(ready_at))
            session.execute(
                update(TaskRow).where(TaskRow.id == task_id).values(state="cancelled", ended_at=ended)
            )
            session.execute(
                update(PauseRow)
                .where(PauseRow.task_id == task_id, PauseRow.ended_at.is_(None))
                .values(ended_at=ended, ended_by=actor)
            )
            self._event(
                session,
                "task.cancelled",
                case=case_id,
                task=task_id,
                step=step,
                actor=actor,
                at=ended,
                detail={"reason": reason},
            )
            self._on_task_closed(
                session,
                snapshot,
                TaskRow(id=task_id, case_id=case_id, step=step, department=department, state="cancelled"),
                ended,
            )
        doc = {"reason": reason, **detail}
        self._event(session, "case.terminated", case=case_id, actor=actor, at=at, detail=doc)
        publish(
            session,
            type_="case.terminated",
            case=case_id,
            ref=case_id,
            at=at,
            recorded_at=self.now(),
            payload={"case": case_id, "key": found[1], **doc, "at": local_iso(at)},
        )
        self._on_case_closed(session, snapshot, at)
        self._forget(case_id)
        log.info("case.terminated case=%s reason=%s", case_id, reason)
        return True

    def _lapse(self, session: Session, row: ToleranceRow, *, at: datetime) -> None:
        """A supplement deadline passed with the material missing: 终止办理 at the deadline instant."""
        from ..services.tolerance import lapse

        lapse(session, row, at=at, event=self._event)
        self._terminate_case(
            session,
            row.case_id,
            at=at,
            reason="supplement_missed",
            detail={"material": row.material, "tolerance": row.id, "task": row.task_id, "step": row.step},
        )

    def _fire_service_signals(
        self, session: Session, signals: Sequence[SignalRow], now: datetime, *, claimer: str | None
    ) -> list[Issued]:
        """Fire service deadlines (kind action: a supplement deadline terminates its case), fenced like cards."""
        from ..db.models import ToleranceRow
        from ..services.tolerance import SUPPLEMENT
        from ..supervision.cards import Issued, mark_fired

        if not signals:
            return []
        fired = mark_fired(session, signals, now, claimer=claimer)
        out: list[Issued] = []
        for sig in sorted(signals, key=lambda s: (as_utc(s.due_at), s.id)):
            if sig.id not in fired:
                continue
            row = session.get(ToleranceRow, sig.deadline_id) if sig.name == SUPPLEMENT else None
            if row is None or row.state != "missing":
                log.warning("service signal %s (%s) has nothing left to act on", sig.id, sig.name)
                continue
            issued = Issued.of(sig)
            self._lapse(session, row, at=issued.at)
            out.append(issued)
        return out

    # commitments (告知承诺) -------------------------------------------------------------------------

    def applicant_key(self, applicant: Mapping[str, Any]) -> str | None:
        """The stable, non-reversible key this database gives an applicant (commitments.py), or None."""
        from ..services.commitments import applicant_key

        with self._transaction() as session:  # the first use may store the database's secret
            return applicant_key(session, applicant)

    def commitment_text(self, key: str, material: str) -> dict[str, str]:
        """The 告知承诺书 the portal shows before the case starts: material, name, text, text_version."""
        from ..services.commitments import commitment_text, text_version

        bundle = self.bundle(key)
        found = next((m for m in bundle.materials() if m.id == material and m.commitment), None)
        if found is None:
            raise NotFoundError(f"bundle {key!r} has no material {material!r} that a commitment may replace")
        text = commitment_text(found)
        return {"material": found.id, "name": found.name, "text": text, "text_version": text_version(text)}

    def commitments(
        self,
        *,
        case: str | None = None,
        task: str | None = None,
        state: str | None = None,
        applicant: str | None = None,
    ) -> list[Commitment]:
        """Commitment records, by case, step instance, state and applicant key (oldest first)."""
        from ..db.models import CommitmentRow
        from ..services.commitments import COMMITMENT_STATES, commitment_of

        if state is not None and state not in COMMITMENT_STATES:
            raise InputError(
                f"unknown commitment state {state!r}", hint="use " + ", ".join(COMMITMENT_STATES)
            )
        self._ready()
        with self._read() as session:
            query = select(CommitmentRow)
            for column, value in (
                (CommitmentRow.case_id, case),
                (CommitmentRow.task_id, task),
                (CommitmentRow.state, state),
                (CommitmentRow.applicant_key, applicant),
            ):
                if value is not None:
                    query = query.where(column == value)
            return [
                commitment_of(r)
                for r in session.scalars(query.order_by(CommitmentRow.signed_at, CommitmentRow.id))
            ]

    def commitment(self, commitment_id: str) -> Commitment:
        """One commitment record."""
        from ..services.commitments import commitment_of, get

        self._ready()
        with self._read() as session:
            return commitment_of(get(session, commitment_id))

    def decline_commitment(self, commitment_id: str, *, actor: str | None = None) -> Commitment:
        """The applicant declines a signed commitment and hands in the material instead (step still open)."""
        from ..services.commitments import commitment_of, decline, get

        with self._transaction() as session:
            now = self.now()
            row = get(session, commitment_id)
            self._lock_case(session, row.case_id)
            session.refresh(row)
            state = session.scalar(select(TaskRow.state).where(TaskRow.id == row.task_id))
            decline(
                session, row, now=now, actor=actor, event=self._event, task_open=state in ("ready", "paused")
            )
            session.flush()
            return commitment_of(row)

    def verify_commitment(
        self, commitment_id: str, *, result: bool, method: str, note: str, actor: str | None = None
    ) -> Commitment:
        """事后核查: record method and result; a false commitment revokes the decision, terminates an open
        case, writes a credit record (outbox `credit.record`) and bars the applicant until repaired.
        """
        from ..clock.instants import local_iso
        from ..services.commitments import commitment_of, get, record_credit, verify
        from ..supervision.cards import announce

        try:
            with self._transaction() as session:
                now = self.now()
                row = get(session, commitment_id)
                self._lock_case(session, row.case_id)
                session.refresh(row)
                verify(
                    session,
                    self.clock,
                    row,
                    result=result,
                    method=method,
                    note=note,
                    now=now,
                    actor=actor,
                    event=self._event,
                )
                if not result:
                    if row.decided_at is not None:
                        detail = {
                            "commitment": row.id,
                            "material": row.material,
                            "reason": "false_commitment",
                        }
                        announce(
                            session,
                            self._event,
                            "decision.revoked",
                            case=row.case_id,
                            task=row.task_id,
                            step=row.step,
                            actor=actor,
                            at=now,
                            ref=row.task_id,
                            detail=detail,
                            payload={
                                **detail,
                                "case": row.case_id,
                                "task": row.task_id,
                                "step": row.step,
                                "department": row.department,
                                "decided_at": local_iso(row.decided_at),
                                "at": local_iso(now),
                            },
                        )
                    record_credit(session, row, now=now, actor=actor, event=self._event)
                    self._terminate_case(
                        session,
                        row.case_id,
                        at=now,
                        reason="false_commitment",
                        detail={"commitment": row.id, "material": row.material},
                        actor=actor,
                    )
                session.flush()
                return commitment_of(row)
        except StaleDataError as exc:
            raise ConflictError(
                f"commitment {commitment_id} was changed meanwhile", hint="show it and retry"
            ) from exc

    def credit_records(self, *, applicant: str | None = None, open_only: bool = False) -> list[CreditRecord]:
        """Credit records (false commitments), by applicant key; `open_only`: not repaired yet."""
        from ..db.models import CreditRow
        from ..services.commitments import credit_of

        self._ready()
        with self._read() as session:
            query = select(CreditRow)
            if applicant is not None:
                query = query.where(CreditRow.applicant_key == applicant)
            if open_only:
                query = query.where(CreditRow.repaired_at.is_(None))
            return [credit_of(r) for r in session.scalars(query.order_by(CreditRow.id))]

    def repair_credit(self, record_id: int, *, note: str, actor: str | None = None) -> CreditRecord:
        """信用修复: the record stays on file but no longer bars the applicant from commitments."""
        from ..services.commitments import credit_of, repair

        with self._transaction() as session:
            credit = repair(session, record_id, note=note, now=self.now(), actor=actor, event=self._event)
            session.flush()
            return credit_of(credit)

    # materials (容缺, refused commitments, e-licence checks) -----------------------------------------

    def materials(self, *, case: str | None = None, task: str | None = None) -> CaseMaterials:
        """A case's or step's commitments, tolerated materials and e-licence checks, and what is missing."""
        if case is None and task is None:
            raise InputError("name a case or a task", hint="--case ID or --task ID")
        self._ready()
        with self._read() as session:
            return self._case_materials(session, case=case, task=task)

    def supply_material(self, task_id: str, material: str, *, actor: str | None = None) -> CaseMaterials:
        """A material the step waits for was handed in: a tolerated one (容缺), one a refused commitment
        needs, or one whose e-licence could not be verified. Returns the step's materials.

        A tolerated material whose deadline has already passed terminates the case at that instant
        instead (the sweeper had not got to it yet), and StateError says so.
        """
        from ..clock.instants import local_iso
        from ..db.models import CommitmentRow, LicenceCheckRow, ToleranceRow
        from ..services.licences import RETRIED_STATES
        from ..services.tolerance import passed, supply

        lapsed: ToleranceRow | None = None
        with self._transaction() as session:
            now = self.now()
            case_id, step, state, _department = self._open_task(session, task_id)
            if state not in ("ready", "paused"):
                raise StateError(
                    f"step {step!r} of case {case_id} is {state}; it waits for no material any more"
                )
            supplied = False
            tol = session.scalar(
                select(ToleranceRow).where(ToleranceRow.task_id == task_id, ToleranceRow.material == material)
            )
            if tol is not None and tol.state == "missing":
                if passed(tol, now):
                    self._lapse(session, tol, at=as_utc(tol.due_at) if tol.due_at else now)
                    lapsed = tol
                else:
                    supply(session, tol, now=now, actor=actor, event=self._event)
                    supplied = True
            if lapsed is None:
                com = session.scalar(
                    select(CommitmentRow).where(
                        CommitmentRow.task_id == task_id,
                        CommitmentRow.material == material,
                        CommitmentRow.state == "refused",
                        CommitmentRow.supplied_at.is_(None),
                    )
                )
                if com is not None:
                    com.supplied_at, com.supplied_by = now, actor
                    self._event(
                        session,
                        "material.supplied",
                        case=case_id,
                        task=task_id,
                        step=step,
                        actor=actor,
                        at=now,
                        detail={"material": material, "commitment": com.id, "kind": "commitment"},
                    )
                    supplied = True
                check = session.scalar(
                    select(LicenceCheckRow).where(
                        LicenceCheckRow.task_id == task_id,
                        LicenceCheckRow.material == material,
                        LicenceCheckRow.state.in_(RETRIED_STATES),
                    )
                )
                if check is not None:
                    before = check.state
                    check.state, check.supplied_at, check.supplied_by = "supplied", now, actor
                    self._event(
                        session,
                        "licence.supplied",
                        case=case_id,
                        task=task_id,
                        step=step,
                        actor=actor,
                        at=now,
                        detail={"material": material, "check": check.id, "from": before},
                    )
                    supplied = True
                if not supplied:
                    waiting = self._case_materials(session, task=task_id).missing
                    raise StateError(
                        f"step {step!r} of case {case_id} does not wait for material {material!r}",
                        hint="it waits for: " + ", ".join(m.material for m in waiting)
                        if waiting
                        else "it waits for no material",
                    )
                session.flush()
                return self._case_materials(session, task=task_id)
        assert lapsed is not None and lapsed.due_at is not None
        raise StateError(
            f"the supplement deadline of {material!r} passed at {local_iso(lapsed.due_at)}; case {case_id} "
            "was terminated at that instant (终止办理)"
        )

    def extend_supplement(
        self, task_id: str, material: str, *, days: int, approver: str, reason: str, actor: str | None = None
    ) -> CaseMaterials:
        """An approver moves a tolerated material's supplement deadline by `days` working days (before it passes)."""
        from ..db.models import ToleranceRow
        from ..services.tolerance import extend

        with self._transaction() as session:
            now = self.now()
            case_id, step, _state, _department = self._open_task(session, task_id)
            tol = session.scalar(
                select(ToleranceRow).where(ToleranceRow.task_id == task_id, ToleranceRow.material == material)
            )
            if tol is None:
                raise NotFoundError(
                    f"step {step!r} of case {case_id} was not accepted without {material!r} (容缺)"
                )
            extend(
                session,
                tol,
                days=days,
                approver=approver,
                reason=reason,
                calendar=self._calendar(session),
                now=now,
                actor=actor,
                event=self._event,
            )
            session.flush()
            return self._case_materials(session, task=task_id)

    def verify_licences(self, task_id: str, *, actor: str | None = None) -> CaseMaterials:
        """Ask again for the step's pending, failed, not found, invalid and unverified e-licence checks.

        The provider is asked outside any transaction (no lock is held while it answers); each answer
        is then stored unless the check changed meanwhile.
        """
        from ..db.models import LicenceCheckRow
        from ..services.licences import RETRIED_STATES, LicenceRequest, apply, fetch, holder_of

        self._ready()
        with self._read() as session:
            found = session.execute(select(TaskRow.case_id).where(TaskRow.id == task_id)).first()
            if found is None:
                raise NotFoundError(f"no task {task_id!r}", hint="list tasks with: hennan-flow task list")
            case = session.get(CaseRow, found[0])
            assert case is not None
            bundle = self._definition(session, case.definition_id).bundle
            applicant = self._applicant_of(case)
            pending = [
                (r.id, r.rev, r.source, r.licence_type, r.step, r.material)
                for r in session.scalars(
                    select(LicenceCheckRow).where(
                        LicenceCheckRow.task_id == task_id, LicenceCheckRow.state.in_(RETRIED_STATES)
                    )
                )
            ]
        answers = []
        for check_id, rev, source, licence_type, step_id, material_id in pending:
            step = bundle.step(step_id)
            material = next((m for m in step.materials if m.id == material_id), None) if step else None
            request = LicenceRequest(
                material=material_id,
                licence_type=licence_type,
                source=source,
                case=found[0],
                holder=holder_of(applicant, material) if material is not None else None,
            )
            answers.append((check_id, rev, fetch(self.licences, request)))
        with self._transaction() as session:
            now = self.now()
            self._lock_case(session, found[0])
            for check_id, rev, outcome in answers:
                row = session.get(LicenceCheckRow, check_id, populate_existing=True)
                if row is None or row.rev != rev or row.state not in RETRIED_STATES:
                    continue  # supplied or verified meanwhile
                before = row.state
                apply(row, outcome, provider=getattr(self.licences, "name", "custom"), now=now)
                self._event(
                    session,
                    f"licence.{row.state}",
                    case=row.case_id,
                    task=row.task_id,
                    step=row.step,
                    actor=actor,
                    at=now,
                    detail={
                        "check": row.id,
                        "material": row.material,
                        "from": before,
                        "code": row.error_code,
                    },
                )
            session.flush()
            return self._case_materials(session, task=task_id)

    # reviews (好差评) --------------------------------------------------------------------------------

    def add_review(
        self,
        case_id: str,
        *,
        level: int,
        channel: str,
        task: str | None = None,
        real_name: bool = False,
        text: str | None = None,
        actor: str | None = None,
    ) -> Review:
        """A review of a case (after it ended) or of one of its steps (after it completed), level 1–5.

        A bad review (4 不满意, 5 非常不满意) opens its rectification record (reviews.py).
        """
        from ..services import commitments, reviews

        level, channel = reviews.check_input(level, channel)
        with self._transaction() as session:
            now = self.now()
            case = self._lock_case(session, case_id)
            step: str | None = None
            department: str | None = None
            if task is not None:
                found = session.execute(
                    select(TaskRow.case_id, TaskRow.step, TaskRow.state, TaskRow.department).where(
                        TaskRow.id == task
                    )
                ).first()
                if found is None or found[0] != case_id:
                    raise NotFoundError(f"case {case_id} has no task {task!r}")
                if found[2] != "completed":
                    raise StateError(
                        f"step {found[1]!r} is {found[2]}; a step is reviewed after it completed (一次一评)"
                    )
                step, department = found[1], found[3]
            else:
                if case.state == "open":
                    raise StateError(
                        f"case {case_id} is still open; a case is reviewed after it ended (一事一评)",
                        hint="review a completed step instead: --task TASK_ID",
                    )
                department = self._lead_of(session, case.definition_id)
            reviewer = commitments.applicant_key(session, self._applicant_of(case)) if real_name else None
            row = reviews.add(
                session,
                self.clock,
                case_id=case_id,
                task_id=task,
                step=step,
                department=department,
                level=level,
                channel=channel,
                real_name=real_name,
                text=text,
                reviewer=reviewer,
                now=now,
                actor=actor,
                event=self._event,
            )
            session.flush()
            return reviews.reviews_of(session, [row])[0]

    def reviews(
        self, *, case: str | None = None, bad: bool | None = None, open_only: bool = False
    ) -> list[Review]:
        """Reviews oldest first; `bad` filters levels 4–5 (or 1–3); `open_only`: records not closed yet."""
        from ..db.models import RectificationRow, ReviewRow
        from ..services.reviews import BAD_LEVELS, reviews_of

        self._ready()
        with self._read() as session:
            query = select(ReviewRow)
            if case is not None:
                query = query.where(ReviewRow.case_id == case)
            if bad is not None:
                level = ReviewRow.level.in_(BAD_LEVELS)
                query = query.where(level if bad else ~level)
            if open_only:
                query = query.where(
                    ReviewRow.id.in_(
                        select(RectificationRow.review_id).where(RectificationRow.state != "closed")
                    )
                )
            return reviews_of(session, list(session.scalars(query.order_by(ReviewRow.at, ReviewRow.id))))

    def review(self, review_id: str) -> Review:
        """One review with its rectification record and the cards its phases got."""
        from ..services.reviews import find, reviews_of

        self._ready()
        with self._read() as session:
            row, _rect = find(session, review_id)
            return reviews_of(session, [row])[0]

    def _move_review(self, review_id: str, move: str, **kwargs: Any) -> Review:
        from ..services import reviews

        try:
            with self._transaction() as session:
                now = self.now()
                row, rect = reviews.find(session, review_id)
                self._lock_case(session, row.case_id)
                if rect is not None:
                    session.refresh(rect)
                steps: dict[str, Callable[..., Any]] = {
                    "verify": reviews.verify,
                    "rectify": reviews.rectify,
                    "answer": reviews.answer,
                }
                steps[move](session, self.clock, row, rect, now=now, event=self._event, **kwargs)
                session.flush()
                return reviews.reviews_of(session, [row])[0]
        except StaleDataError as exc:
            raise ConflictError(
                f"review {review_id} was changed meanwhile", hint="show it and retry"
            ) from exc

    def verify_review(
        self,
        review_id: str,
        *,
        finding: str,
        note: str,
        complexity: str | None = None,
        actor: str | None = None,
    ) -> Review:
        """核实 a bad review: founded (rectify: simple 5 / complex 15 working days) or unfounded (explain)."""
        return self._move_review(
            review_id, "verify", finding=finding, complexity=complexity, note=note, actor=actor
        )

    def rectify_review(self, review_id: str, *, note: str, actor: str | None = None) -> Review:
        """整改 done for a founded bad review; the feedback (反馈) phase starts."""
        return self._move_review(review_id, "rectify", note=note, actor=actor)

    def answer_review(self, review_id: str, *, note: str, actor: str | None = None) -> Review:
        """反馈 given to the reviewer (回访); the rectification record closes."""
        return self._move_review(review_id, "answer", note=note, actor=actor)

    def review_summary(
        self, *, start: date | None = None, end: date | None = None, department: str | None = None
    ) -> ReviewSummary:
        """The 好差评 figures of a period and department (reviews.summary; the report's reviews section)."""
        from ..supervision.review_figures import summary

        self._ready()
        now = self.now()
        with self._read() as session:
            return summary(session, start=start, end=end, department=department, now=now)


def _kind_of(value: Any) -> str:
    """What a bad argument was, without quoting it (it may be case data)."""
    return (
        ""
        if isinstance(value, int | float) and not isinstance(value, bool)
        else f", not a {type(value).__name__}"
    )


def _task_of_row(
    row: TaskRow, *, deadlines: dict[str, Any] | None = None, ready: tuple[Task, ...] = ()
) -> Task:
    """The Task a portal sees for a task row (an ORM row or a snapshot)."""
    return Task(
        id=row.id,
        case=row.case_id,
        step=row.step,
        name=row.name,
        department=row.department,
        state=row.state,
        ready_at=as_utc(row.ready_at),
        ended_at=as_utc(row.ended_at),
        actor=row.actor,
        deadlines=deadlines,
        ready=ready,
    )


def _event_of(row: EventRow) -> Event:
    detail = json.loads(row.detail or "{}")
    return Event(
        at=as_utc(row.at), type=row.type, step=row.step, actor=row.actor, task=row.task_id, detail=detail
    )


def _db_error(exc: Exception, url: str) -> HennanFlowError:
    """A database failure (SQLAlchemy's or the driver's own) as an error the user can act on."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    if "locked" in text or "could not serialize" in text or "deadlock" in text:
        return ConflictError(f"the database is busy ({text})", hint="try again")
    if "unable to open database file" in text:
        return ConfigError(
            f"cannot open the database {url!r}", hint="check that its folder exists and is writable"
        )
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return SchemaOutOfDateError(
            f"the database has no hennan_flow schema ({text})", hint="run: hennan-flow db upgrade"
        )
    if "could not connect" in text or "Connection refused" in text or "connection failed" in text:
        return ConfigError(f"cannot connect to the database: {text}", hint="check --db / HENNAN_FLOW_DB")
    return HennanFlowError(f"database error: {text}")
