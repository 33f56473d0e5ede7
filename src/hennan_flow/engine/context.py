"""The engine's context: the wiring every use-case module and the sweeper's port work with.

One `EngineContext` per `Engine`: the database (SQLAlchemy engine, write and read sessions, the WAL
checkpointer), the time source, the schema check, the working-day calendar (given to the engine, or
the packaged data with the stored county files, read once per transaction), the caches (loaded
definitions, open cases' workflows, what the audit makes of each bundle's materials), the stored
deadlines (`clock.deadlines.Deadlines`), the script engine designer expressions run in, and the
e-licence provider. Use-case modules receive it beside the transaction they run in; it changes no
state by itself.

Transactions: `write()` is one state change (`db.transaction.Tx`, `BEGIN IMMEDIATE` on SQLite),
`read()` a read session, `reading()` a driver cursor for the hot reads (work queues). All three
check once that the schema is at the newest revision (`check_schema`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..clock.arithmetic import end_of_day
from ..clock.calendar_cache import stored_calendar
from ..clock.deadlines import Deadlines
from ..clock.instants import local_date
from ..clock.workdays import WorkCalendar
from ..db import hotpath, migrate
from ..db.checkpoint import Checkpointer
from ..db.models import DefinitionRow, MetaRow, SignalRow
from ..db.raw import Raw
from ..db.session import KeptConnection, make_engine, read_sessions, sqlite_file, write_sessions
from ..db.transaction import Tx, transaction
from ..errors import (
    ConfigError,
    ConflictError,
    HennanFlowError,
    InputError,
    NotFoundError,
    SchemaOutOfDateError,
)
from ..identity.directory import SUPERVISION_DEFAULTS
from ..runtime.sandbox import Sandbox
from ..runtime.workflow import EngineScriptEngine, StateCodec, quiet_spiff_loggers
from ..sealing import KEY_ENV, KEY_FILE_ENV, Keyring, using
from ..services.licences import LicenceProvider, NoProvider
from ..services.tolerance import MaterialPlan, plan_of
from ..supervision.cards import issue
from ..supervision.records import PhaseClock
from .authority import Authority
from .definitions import LoadedDefinition, load_definition
from .time_source import TimeSource

__all__ = ["EngineContext", "HandedBack", "WorkflowCache", "database_error"]

_LIVE: weakref.WeakSet[EngineContext] = weakref.WeakSet()  # every engine of this process (`_forked`)
_INHERITED: list[Any] = []  # connections a forked child inherited: never used, closed or finalized


def _after_fork_in_child() -> None:
    for ctx in list(_LIVE):
        ctx._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass
class _Cached:
    rev: int
    workflow: Any


@dataclass
class Change:
    """What `WorkflowCache.changing` keeps once the transaction committed."""

    rev: int = 0
    workflow: Any = None
    case: Any = None  # the case's record; its state at the end decides whether to keep the workflow

    def keep(self, rev: int, workflow: Any, case: Any) -> None:
        self.rev, self.workflow, self.case = rev, workflow, case


class WorkflowCache:
    """Open cases' workflows, kept for their next step (least recently used out first).

    A finished case is dropped: nothing will advance it again, and every kept workflow is a graph of
    objects the garbage collector walks.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: dict[str, _Cached] = {}  # insertion order = least recently used first
        self._lock = threading.Lock()

    def get(self, case_id: str, rev: int) -> Any | None:
        """The cached workflow of the case at revision `rev`, or None."""
        cached = self._items.get(case_id)
        return cached.workflow if cached is not None and cached.rev == rev else None

    def remember(self, case_id: str, rev: int, workflow: Any, *, open_: bool) -> None:
        with self._lock:
            self._items.pop(case_id, None)
            if not open_:
                return
            self._items[case_id] = _Cached(rev, workflow)
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))

    def forget(self, case_id: str) -> None:
        with self._lock:
            self._items.pop(case_id, None)

    @contextmanager
    def changing(self, case_id: str) -> Iterator[Change]:
        """A transaction that advances the case's workflow: kept at its new revision when the block
        ends well and `keep` was called, dropped when it fails (in memory it may be ahead of the
        database). Open the write transaction inside it, so a failed commit drops it too."""
        change = Change()
        try:
            yield change
        except BaseException:
            self.forget(case_id)
            raise
        if change.case is not None:
            self.remember(case_id, change.rev, change.workflow, open_=change.case.state == "open")

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._items


class HandedBack:
    """The steps this engine's starts and completions handed back as ready, by task id: its case, its
    element and its case's definition (facts a step keeps for life), most recent last.

    A portal completes the step a start or a completion just handed it; knowing these, the form data
    is checked before the completion's write transaction without a read transaction of its own
    (`tasks.complete`). Whatever happened to the step since (completed elsewhere, paused, deleted) is
    seen under the case lock, as it would be after a read anyway.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: dict[str, tuple[str, str, int]] = {}
        self._lock = threading.Lock()

    def get(self, task_id: str) -> tuple[str, str, int] | None:
        """(case id, step, definition id) of a step handed back, or None."""
        return self._items.get(task_id)

    def add(self, steps: Iterable[Any], definition_id: int) -> None:
        """Remember `steps` (entities.Task) of one case of definition `definition_id`, once committed."""
        with self._lock:
            for step in steps:
                self._items[step.id] = (step.case, step.step, definition_id)
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))

    def discard(self, task_id: str) -> None:
        with self._lock:
            self._items.pop(task_id, None)


class EngineContext:
    """The wiring of one engine (see the module docstring); `Engine` builds it from its arguments."""

    def __init__(
        self,
        url: str,
        *,
        clock: datetime | Callable[[], datetime] | None = None,
        forms: str | None = None,
        allow_code_tasks: bool = False,
        max_cycles: int = 100,
        calendar: WorkCalendar | None = None,
        close_of_business: time | None = None,
        licences: LicenceProvider | None = None,
        keyring: Keyring | None = None,
        allow_plaintext: bool = False,
    ) -> None:
        quiet_spiff_loggers()
        self.url = url
        self.keyring = keyring
        self.allow_plaintext = allow_plaintext
        self._plaintext_warned = False
        self.db = make_engine(url)
        self.postgres = self.db.dialect.name == "postgresql"
        self._write = write_sessions(self.db)
        self._kept = KeptConnection(self.db)  # the write transactions' connection (db.session)
        self._read = read_sessions(self.db)
        path = sqlite_file(self.db)
        self.checkpointer = Checkpointer(path, self) if path else None
        self.time = TimeSource(clock, is_simulation=self.is_simulation)
        self._schema_checked = False
        self.forms_dir = forms
        self.allow_code_tasks = allow_code_tasks
        self.max_cycles = max_cycles
        self.codec = StateCodec()
        self.workflows = WorkflowCache()
        self.handed_back = HandedBack()
        self._definitions: dict[int, LoadedDefinition] = {}
        self._service_plans: dict[int, MaterialPlan] = {}
        self._lock = threading.Lock()
        self._lookup_lock = threading.Lock()
        self._lookup: Any = None  # lookup's own connection (a SQLite file), taken from the pool once
        self._fixed_calendar = calendar
        self._calendars: tuple[int, WorkCalendar] | None = None
        # the sweeps' calendar state: years announced (calendar.pending), the last warning logged
        self.announced_years: set[int] = set()
        self.calendar_warned: tuple[tuple[Any, ...], datetime] | None = None
        self.deadlines = Deadlines(
            calendar=self.calendar, fire=self._fire_when_ended, close_of_business=close_of_business
        )
        self.script_engine = EngineScriptEngine(
            Sandbox(functions=domain_functions(self)), allow_code=allow_code_tasks, now=self.now
        )
        self.licences: LicenceProvider = licences if licences is not None else NoProvider()
        self.authority = Authority(self.is_simulation)
        """The directory in force and the permission check (DESIGN §8)."""
        self.phases = PhaseClock(
            calendar=self.calendar, settings=self.supervision_settings, close=close_of_business
        )
        """How supervision records' phase deadlines are computed (DESIGN §9)."""
        _LIVE.add(self)

    def close(self) -> None:
        """Release the database connections (after a last WAL checkpoint on SQLite)."""
        if self.checkpointer is not None:
            self.checkpointer.close()
        self._kept.close()
        with self._lookup_lock:
            kept, self._lookup = self._lookup, None
        if kept is not None:
            kept.close()
        self.db.dispose()

    def _forked(self) -> None:
        """In a forked child: the parent's connections (pooled, kept, the lookups') are the parent's
        sockets and files; the child drops them untouched and connects anew (SQLAlchemy's advice:
        `dispose(close=False)`)."""
        _INHERITED.extend(c for c in (self._kept.forget(), self._lookup) if c is not None)
        self._lookup_lock, self._lookup = threading.Lock(), None
        if self.checkpointer is not None:
            self.checkpointer.forked()
        self.db.dispose(close=False)

    # -- the schema -----------------------------------------------------------------------
    def check_schema(self) -> None:
        """Refuse to work on a database whose schema is not at this version's newest revision (once)."""
        if self._schema_checked:
            return
        try:
            current = migrate.current_revision(self.db)
        except OperationalError as exc:
            raise database_error(exc, self.url) from exc
        head = migrate.head_revision()
        if current != head:
            state = (
                "没有 hennan_flow 的表结构" if current is None else f"的表结构版本为 {current}，不是 {head}"
            )
            raise SchemaOutOfDateError(f"数据库{state}", hint="执行：hennan-flow db upgrade")
        self._schema_checked = True

    def schema_changed(self) -> None:
        """After an upgrade: check the schema again before the next use."""
        self._schema_checked = False
        self.authority.forget()

    def is_simulation(self) -> bool:
        """Whether the database carries the simulation mark (set only when it was created empty)."""
        with self.read() as session:
            mark = session.get(MetaRow, "simulation")
        return mark is not None and mark.value == "true"

    # -- personal data at rest (sealing.py) ----------------------------------------------
    def check_plaintext(self, tx: Tx, applicant: Mapping[str, Any], sensitive: frozenset[str]) -> None:
        """Without a key, a case holding personal data (an applicant JSON, form fields marked
        `x-hf-sensitive`) starts only with `allow_plaintext`, or on a simulation database (warned once)."""
        if self.keyring is not None or self.allow_plaintext or not (applicant or sensitive):
            return
        mark = tx.session.get(MetaRow, "simulation")
        if mark is None or mark.value != "true":
            what = ["申请人信息（JSON）"] if applicant else []
            if sensitive:
                names = sorted(sensitive)
                shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
                what.append(f"标为 x-hf-sensitive 的表单字段（{shown}）")
            raise ConfigError(
                f"没有配置密钥，本办件的{'和'.join(what)}将以明文保存",
                hint=f"设置 {KEY_ENV}（openssl rand -base64 32）或 {KEY_FILE_ENV}；"
                "或传入 --allow-plaintext（API：allow_plaintext=True）接受明文保存",
            )
        if not self._plaintext_warned:
            self._plaintext_warned = True
            logging.getLogger("hennan_flow.sealing").warning(
                "模拟数据库未配置密钥：个人信息以明文保存（请设置 %s 或 %s）",
                KEY_ENV,
                KEY_FILE_ENV,
            )

    # -- time -----------------------------------------------------------------------------
    def now(self) -> datetime:
        """Real UTC time, or the simulated clock on a simulation database."""
        return self.time.now()

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One state change: one write transaction (db.transaction)."""
        self.check_schema()
        committed = self.checkpointer.committed if self.checkpointer else None
        try:
            with using(self.keyring), transaction(self._write, committed=committed, kept=self._kept) as tx:
                yield tx
        except (OperationalError, self.db.dialect.loaded_dbapi.OperationalError) as exc:
            raise database_error(exc, self.url) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session (SQLite: a deferred transaction that never waits for writers)."""
        self.check_schema()
        with using(self.keyring), self._read() as session:
            yield session

    @contextmanager
    def unchecked(self, *, write: bool = False) -> Iterator[Session]:
        """An ORM session, committed at the end when `write`, on a database whose schema may not be
        there yet (`db upgrade`, `db current`)."""
        if write:
            with using(self.keyring), self._write.begin() as session:
                yield session
        else:
            with using(self.keyring), self._read() as session:
                yield session

    @contextmanager
    def reading(self) -> Iterator[Raw]:
        """A pooled connection for the hot reads (work queues): driver-level, no ORM session.

        Both read in autocommit: each statement sees the last commit. On PostgreSQL that saves the
        driver's BEGIN and the pool's ROLLBACK, two of a read's three round trips (bench/postgres.py).
        """
        self.check_schema()
        try:
            conn = self.db.raw_connection()
        except OperationalError as exc:
            raise database_error(exc, self.url) from exc
        dbapi: Any = conn.dbapi_connection  # psycopg or sqlite3
        try:
            if self.postgres:
                dbapi.autocommit = True
            with using(self.keyring):
                yield Raw(dbapi=dbapi, postgres=self.postgres)
        finally:
            if self.postgres:
                with suppress(Exception):  # a broken connection is discarded by the pool
                    dbapi.autocommit = False
            conn.close()

    def lookup(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of a one-statement read seeing the last commit of any process (an API key,
        on every HTTP request). On a SQLite file it runs on a connection kept for these lookups (out
        of the pool, used by one thread at a time): the pool's checkout and return of a connection
        cost several times the statement. The statement runs to its end, so the connection holds
        no snapshot between lookups (the next one sees every commit, a checkpoint is never held up)."""
        if self.checkpointer is None:  # PostgreSQL, or a memory database: a pooled connection
            with self.reading() as raw:
                return raw.row(sql, params)
        self.check_schema()
        with self._lookup_lock:
            try:
                if self._lookup is None:
                    fairy = self.db.raw_connection()
                    fairy.detach()  # closed by `close`, never returned to the pool
                    self._lookup = fairy
                rows = self._lookup.dbapi_connection.execute(sql, params).fetchall()
            except (OperationalError, self.db.dialect.loaded_dbapi.OperationalError) as exc:
                if self._lookup is not None:  # the next lookup opens a fresh connection
                    with suppress(Exception):
                        self._lookup.close()
                    self._lookup = None
                raise database_error(exc, self.url) from exc
        return tuple(rows[0]) if rows else None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A plain SQLAlchemy connection (query plans, migrations)."""
        with self.db.connect() as conn:
            yield conn

    # -- the working-day calendar ---------------------------------------------------------
    def calendar(self, source: Tx | Raw | Session) -> WorkCalendar:
        """The working-day calendar: given to the engine, or packaged data plus the stored overrides
        (looked up once per transaction; parsed again only when a new file was stored)."""
        if self._fixed_calendar is not None:
            return self._fixed_calendar
        tx = source if isinstance(source, Tx) else None
        if tx is not None:
            if tx.calendar is not None:
                return tx.calendar
            raw = tx.raw
        elif isinstance(source, Raw):
            raw = source
        else:
            assert isinstance(source, Session)
            raw = Raw(source.connection())
        newest = tx.calendar_version if tx is not None and tx.calendar_version is not None else None
        if newest is None:
            newest = hotpath.newest_calendar(raw)
        cached = self._calendars
        if cached is None or cached[0] != newest:
            cached = (newest, stored_calendar(hotpath.stored_calendars(raw)))  # cached per stored version
            self._calendars = cached
        if tx is not None:
            tx.calendar = cached[1]
        return cached[1]

    def current_calendar(self) -> WorkCalendar:
        """The calendar this engine computes deadlines with now."""
        with self.read() as session:
            return self.calendar(session)

    # -- definitions ----------------------------------------------------------------------
    def loaded_definition(self, definition_id: int) -> LoadedDefinition | None:
        """The definition if this process has loaded it already (no session needed to ask)."""
        return self._definitions.get(definition_id)

    def definition_in(self, tx: Tx, definition_id: int) -> LoadedDefinition:
        """`definition` inside a write transaction: the ORM session (and with it the sending of the
        cursor's held-back writes, `Tx.session`) only when this process has not loaded it yet."""
        loaded = self._definitions.get(definition_id)
        return loaded if loaded is not None else self.definition(tx.session, definition_id)

    def definition(self, session: Session, definition_id: int) -> LoadedDefinition:
        """A deployed definition, loaded once per process (bundle model, spec, forms)."""
        loaded = self._definitions.get(definition_id)
        if loaded is None:
            row = session.get(DefinitionRow, definition_id)
            if row is None:
                raise NotFoundError(f"没有流程定义 {definition_id}")
            loaded = load_definition(row.id, row.key, row.version, row.source_file, row.bpmn, row.forms)
            with self._lock:
                self._definitions[definition_id] = loaded
        return loaded

    def lead_of(self, session: Session, definition_id: int) -> str | None:
        """The lead department of a deployed bundle: who handles its case-level yellow cards."""
        return self.definition(session, definition_id).bundle.lead

    def accountable_of(self, session: Session, definition_id: int, department: str) -> bool:
        """Whether a lane of a deployed bundle is held to account (`hf:department accountable`):
        a bank's lane gets deadlines and signals, never cards."""
        lane = self.definition(session, definition_id).bundle.department(department)
        return lane is None or lane.accountable

    def service_plan(self, definition: LoadedDefinition) -> MaterialPlan:
        """What the audit makes of each step's materials (commitment, e-licence, 容缺), once per definition."""
        plan = self._service_plans.get(definition.id)
        if plan is None:
            plan = plan_of(definition.bundle)
            with self._lock:
                self._service_plans[definition.id] = plan
        return plan

    # -- signals due when a step or case ends ---------------------------------------------
    def _fire_when_ended(self, tx: Tx, signal: SignalRow, now: datetime) -> None:
        """A step or case ended with this signal due: it fires in this transaction, at its due instant."""
        tx.issued.extend(
            issue(
                tx,
                [signal],
                now,
                claimer=None,
                lead_of=self.lead_of,
                accountable_of=self.accountable_of,
                opened=self.phases.opened,
            )
        )

    def supervision_settings(self, tx: Tx) -> Mapping[str, int | bool]:
        """The stored directory's `[supervision]` settings, or the defaults without one (DESIGN §8)."""
        directory = self.authority.directory(tx.raw)
        return directory.supervision if directory is not None else SUPERVISION_DEFAULTS


def domain_functions(ctx: EngineContext) -> dict[str, Callable[..., Any]]:
    """Functions designer expressions may call: deadlines on the engine's time and calendar."""

    def workdays(n: int) -> str:
        if not isinstance(n, int) or n < 1:
            raise InputError("workdays(n) needs a whole number n ≥ 1" + _kind_of(n))
        cal = ctx.current_calendar()
        day = local_date(ctx.now())
        return end_of_day(cal.add_workdays(day, n), ctx.deadlines.close_of_business).isoformat()

    def natural_days(n: int) -> str:
        if not isinstance(n, int) or n < 1:
            raise InputError("natural_days(n) needs a whole number n ≥ 1" + _kind_of(n))
        return (ctx.now() + timedelta(days=n)).isoformat()

    def hours(n: int) -> str:
        if not isinstance(n, (int, float)) or n <= 0:
            raise InputError("hours(n) needs a positive number" + _kind_of(n))
        return (ctx.now() + timedelta(hours=n)).isoformat()

    return {"workdays": workdays, "natural_days": natural_days, "hours": hours}


def _kind_of(value: Any) -> str:
    """What a bad argument was, without quoting it (it may be case data)."""
    return (
        ""
        if isinstance(value, int | float) and not isinstance(value, bool)
        else f", not a {type(value).__name__}"
    )


def database_error(exc: Exception, url: str) -> HennanFlowError:
    """A database failure (SQLAlchemy's or the driver's own) as an error the user can act on."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    if (
        "locked" in text
        or "could not serialize" in text
        or "deadlock" in text
        or "lock timeout" in text  # PostgreSQL lock_timeout: a case lock held elsewhere
        or "idle-in-transaction timeout" in text  # this session stalled and lost its locks
    ):
        return ConflictError(f"数据库正忙（{text}）", hint="请重试")
    if "unable to open database file" in text:
        return ConfigError(f"无法打开数据库 {url!r}", hint="检查其所在目录是否存在且可写")
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return SchemaOutOfDateError(
            f"数据库没有 hennan_flow 的表结构（{text}）", hint="执行：hennan-flow db upgrade"
        )
    if "could not connect" in text or "Connection refused" in text or "connection failed" in text:
        return ConfigError(f"无法连接数据库：{text}", hint="检查 --db / HENNAN_FLOW_DB")
    return HennanFlowError(f"数据库出错：{text}")
