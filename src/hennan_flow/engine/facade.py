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

`Engine` is a facade: each method checks its arguments and calls one use-case function of the
package (`cases`, `tasks`, `definitions` and `deployments`, `calendars`, `supervision`, `services`,
`licence_checks`, `schema`; the 政务服务 desk's calls live in the `service_desk` mixin), which opens the transaction and does the work; every step that opens or closes goes
through `lifecycle`. The wiring they share is `context.EngineContext`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from .. import limits
from ..clock.deadlines import PAUSE_REASONS
from ..clock.workdays import WorkCalendar
from ..entities import Case, Deployment, Task
from ..errors import ConfigError, FieldError, InputError, NotFoundError
from ..sealing import Keyring
from ..supervision.cards import Card, OutboxEvent
from ..supervision.sweeper import BatchReport, Sweeper, SweepResult
from . import (
    assignment,
    calendars,
    cases,
    definitions,
    deployments,
    directories,
    keys,
    messages,
    outcomes,
    portal,
    schema,
    supervision,
    tasks,
)
from .access import ApiKeys, Idempotency
from .context import EngineContext
from .service_desk import ServiceDesk
from .supervision import SweepPort
from .time_source import SimulatedClock

if TYPE_CHECKING:
    from ..bpmn.bundle import Bundle
    from ..identity.directory import Directory
    from ..services.licences import LicenceProvider
    from ..supervision.accountability import Referral
    from ..supervision.bulletin import Bulletin
    from ..supervision.figures import SupervisionReport

__all__ = ["PLAINTEXT_ENV", "Engine", "SimulatedClock"]

PLAINTEXT_ENV = "HENNAN_FLOW_ALLOW_PLAINTEXT"


class Engine(ServiceDesk):
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
        key: the keys personal data is sealed with at rest (`sealing.Keyring`, or their base64 text,
            the sealing key first); default: env HENNAN_FLOW_KEY or HENNAN_FLOW_KEY_FILE, else none.
        allow_plaintext: without a key, start cases holding personal data on a production database
            anyway (stored in plain text, warned once); default: env HENNAN_FLOW_ALLOW_PLAINTEXT=1.
            Simulation databases always allow it, with the warning.

    Instants: every datetime the engine returns (`Case.started_at`, `Task.ready_at`, `Event.at`,
    cards, commitments, reviews, `now()`) is timezone-aware in UTC (`tzinfo=datetime.UTC`); their
    `as_dict()` and the CLI show the same instants in Asia/Shanghai (ISO 8601 with +08:00). An
    instant given without a zone (`--now`, `clock=`) is read as Asia/Shanghai.
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
        key: Keyring | str | None = None,
        allow_plaintext: bool | None = None,
    ) -> None:
        if max_cycles < 1:
            raise ConfigError("max_cycles 至少为 1")
        keyring = Keyring.from_text(key, source="key=") if isinstance(key, str) else key
        if keyring is None:
            keyring = Keyring.from_env()
        if allow_plaintext is None:
            allow_plaintext = os.environ.get(PLAINTEXT_ENV, "").strip().lower() in {"1", "true", "yes"}
        self.context = EngineContext(
            url,
            clock=clock,
            forms=forms,
            allow_code_tasks=allow_code_tasks,
            max_cycles=max_cycles,
            calendar=calendar,
            close_of_business=close_of_business,
            licences=licences,
            keyring=keyring,
            allow_plaintext=allow_plaintext,
        )
        """The engine's wiring (database, time source, caches) its use-case modules and the sweeper's
        port work with; internal, not part of the public API."""

    @property
    def url(self) -> str:
        return self.context.url

    @property
    def api_keys(self) -> ApiKeys:
        """API keys of service accounts for the HTTP service (create, list, revoke, resolve)."""
        return ApiKeys(self.context)

    @property
    def idempotency(self) -> Idempotency:
        """The HTTP service's Idempotency-Key records (the first response to a retried POST)."""
        return Idempotency(self.context)

    @property
    def cache_size(self) -> int:
        """How many open cases' workflows are kept in memory between their steps (default 256)."""
        return self.context.workflows.size

    @cache_size.setter
    def cache_size(self, size: int) -> None:
        self.context.workflows.size = size

    @property
    def licences(self) -> LicenceProvider:
        """Where e-licences are verified (may be replaced, e.g. by `material verify --provider`)."""
        return self.context.licences

    @licences.setter
    def licences(self, provider: LicenceProvider) -> None:
        self.context.licences = provider

    @property
    def forms_dir(self) -> str | None:
        return self.context.forms_dir

    @property
    def allow_code_tasks(self) -> bool:
        return self.context.allow_code_tasks

    @property
    def max_cycles(self) -> int:
        return self.context.max_cycles

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Release the database connections (after a last WAL checkpoint on SQLite)."""
        self.context.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upgrade(self, *, simulation: bool = False) -> str:
        """Create or migrate the schema to the newest revision; `simulation` marks a new, empty database."""
        return schema.upgrade(self.context, simulation=simulation)

    def status(self) -> dict[str, Any]:
        """Schema revision, the newest revision this version knows, and the simulation mark."""
        return schema.status(self.context)

    # -- personal data at rest (sealing.py) ------------------------------------------------
    def key_status(self) -> dict[str, Any]:
        """Which key sealed the personal data: per sealed column, plain values and values per key id."""
        return keys.status(self.context)

    def rotate_keys(self, *, batch: int = keys.DEFAULT_BATCH) -> dict[str, Any]:
        """Re-seal every value not sealed with the first configured key (plain ones included).

        One write transaction per `batch` rows; idempotent and resumable (run it again after an
        interruption). Keep the old keys configured behind the new one until it has finished.
        """
        if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 10_000:
            raise InputError("轮换的批次须为 1 到 10000 行", hint="传入 --batch 1..10000")
        return keys.rotate(self.context, batch=batch).as_dict()

    # -- time and calendar ------------------------------------------------------------------
    def now(self) -> datetime:
        """The engine's clock: real UTC time, or the simulated clock on a simulation database."""
        return self.context.now()

    def calendar(self) -> WorkCalendar:
        """The calendar this engine computes deadlines with now."""
        return self.context.current_calendar()

    def provisional_calendar(self, year: int, *, actor: str | None = None) -> dict[str, Any]:
        """Store a provisional year (DESIGN §7) and recompute every open deadline with it."""
        return calendars.provisional(self.context, year, actor=actor)

    def calendar_status(self) -> dict[str, Any]:
        """The stored calendar: sources, years, provisional years, pending deadlines, unsupervised steps."""
        return calendars.status(self.context)

    def load_calendar(self, path: str, *, actor: str | None = None) -> dict[str, Any]:
        """Store a county override file and recompute every open deadline with it (one transaction)."""
        return calendars.load(self.context, path, actor=actor)

    # -- the county directory (DESIGN §8) ---------------------------------------------------
    def load_directory(self, path: str, *, actor: str | None = None) -> dict[str, Any]:
        """Store a directory file (departments, users, roles); the first needs no actor, later ones an admin."""
        return directories.load(self.context, path, actor=actor)

    def directory(self) -> Directory:
        """The directory in force (NotFoundError when none is stored)."""
        return directories.show(self.context)

    # -- definitions ----------------------------------------------------------------------
    def deploy(
        self, *paths: str, forms: str | None = None, allow_findings: bool = False, actor: str | None = None
    ) -> list[Deployment]:
        """Validate and audit the bundles under `paths`, then store each changed one as a new version.

        Nothing is deployed if any file has validation errors (never overridable) or audit errors
        (unless `allow_findings`).
        """
        if not paths:
            raise ConfigError("部署至少需要一个路径")
        ctx = self.context
        candidates = definitions.collect(
            paths,
            forms_dir=forms or ctx.forms_dir,
            allow_code=ctx.allow_code_tasks,
            allow_findings=allow_findings,
        )
        with ctx.write() as tx:
            now = ctx.now()
            ctx.authority.check(tx, actor, "deploy")
            return [deployments.store(tx, c, now, actor) for c in candidates]

    def bundle(self, key: str, version: int | None = None) -> Bundle:
        """The bundle model (steps, departments, materials, limits) of a deployed definition."""
        with self.context.read() as session:
            return self.context.definition(session, deployments.find(session, key, version)).bundle

    def definitions(self) -> list[Deployment]:
        """The latest deployed version of every bundle key."""
        with self.context.read() as session:
            return deployments.latest(session)

    # -- cases ----------------------------------------------------------------------------
    def start_case(
        self,
        key: str,
        *,
        applicant: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Case:
        """Start a case of the latest deployed version of `key` and run it to its first wait state.

        `applicant` is who applies (personal data: sealed at rest with the engine's key, never logged),
        a JSON object of strings::

            {"name": "李湘南", "id_number": "430422199001011234",   # 公民身份号码 (a person), or
             "credit_code": "91430422MA4T8X2K3N",                    # 统一社会信用代码 (an enterprise), or
             "applicant_id": "portal-42",                            # the portal's own stable id
             "phone": "13807340001", "address": "…",
             "intake": {"missing": [material ids handed in later, 容缺],
                        "decline_commitments": [material ids brought instead of committed],
                        "holders": {material id: whose licence to verify}}}

        The identifier (`credit_code`, else `id_number`, else `applicant_id`) keys its commitments
        and credit records (as a non-reversible applicant key); every other field is kept for the
        portal. `data` is the process data the first steps see (a JSON object). The returned Case
        carries its first ready steps (`ready`); its instants are aware UTC datetimes.

        Raises (nothing is stored when one is raised):
            NotFoundError: no bundle `key` is deployed.
            InputError: `applicant`, `data` or `intake` is not of the shape above.
            ExpressionError: a designer expression on the way to the first wait state was refused or
                failed (names the element and the expression).
            ConfigError: no key is configured and the case holds personal data on a production
                database (pass allow_plaintext=True to store it in plain text), or a stored value is
                sealed with a key that is not configured.
            SchemaOutOfDateError: the database schema is behind (run `hennan-flow db upgrade`).
            ConflictError: the database stayed busy (locked) beyond its timeout; try again.
        """
        if data is not None and not isinstance(data, Mapping):
            raise InputError("办件数据须为 JSON 对象")
        if applicant is not None and not isinstance(applicant, Mapping):
            raise InputError("申请人信息须为 JSON 对象")
        return cases.start(self.context, key, applicant=applicant or {}, data=data or {}, actor=actor)

    def case(self, case_id: str, *, actor: str | None = None) -> Case:
        """A case with its timeline of events; given `actor`, PermissionDenied unless they may read it."""
        portal.check_readable(self.context, case_id, actor)
        return cases.case(self.context, case_id)

    def element_states(self, case_id: str, *, actor: str | None = None) -> dict[str, dict[str, Any]]:
        """Per BPMN element id of the case's steps: state, task, department, deadlines, open card colour."""
        portal.check_readable(self.context, case_id, actor)
        return portal.element_states(self.context, case_id)

    def cases(
        self, *, state: str | None = None, key: str | None = None, actor: str | None = None
    ) -> list[Case]:
        """Cases, newest first (without their timelines); given `actor`, those that actor may read."""
        if state not in {None, *cases.CASE_STATES}:
            raise InputError(f"未知的办件状态 {state!r}", hint="可选值：" + "、".join(cases.CASE_STATES))
        return cases.cases(self.context, state=state, key=key, actor=actor)

    def refuse_case(
        self, case_id: str, *, stage: str, reason: str, basis: str | None = None, actor: str | None = None
    ) -> Case:
        """不予受理 (stage `acceptance`, first step open) or 不予许可 (`decision`, with `basis`; §10)."""
        return outcomes.refuse(self.context, case_id, stage=stage, reason=reason, basis=basis, actor=actor)

    def withdraw_case(self, case_id: str, *, reason: str, actor: str | None = None) -> Case:
        """撤回: the applicant withdraws; the open steps close, their deadlines stop (§10)."""
        return outcomes.withdraw(self.context, case_id, reason=reason, actor=actor)

    def return_task(self, task_id: str, *, to: str, reason: str, actor: str | None = None) -> Task:
        """退回 to step `to`, which ran before it: the Task of the new instance of `to` (§10)."""
        return outcomes.return_(self.context, task_id, to=to, reason=reason, actor=actor)

    def case_data(self, case_id: str) -> dict[str, Any]:
        """The case's current process data (what earlier steps entered and issued)."""
        return cases.case_data(self.context, case_id)

    # -- tasks ----------------------------------------------------------------------------
    def tasks(
        self,
        *,
        case: str | None = None,
        department: str | None = None,
        state: str | None = "ready",
        assignee: str | None = None,
        actor: str | None = None,
    ) -> list[Task]:
        """The work queue: user steps by case, department (lane), state (default: ready; `open`: ready
        or paused, as `task list` shows by default) and the user who claimed them (`assignee`); given
        `actor`, only the steps that actor may read (DESIGN §8)."""
        if state not in {None, "open", *tasks.TASK_STATES}:
            raise InputError(
                f"未知的环节状态 {state!r}", hint="可选值：ready、paused、open、completed、cancelled"
            )
        return tasks.queue(
            self.context, case=case, department=department, state=state, assignee=assignee, actor=actor
        )

    def task(self, task_id: str, *, actor: str | None = None) -> Task:
        """One step instance, with its deadlines; given `actor`, PermissionDenied unless they may read it."""
        found = tasks.one(self.context, task_id)
        portal.check_readable(self.context, found.case, actor)
        return found

    def form_schema(self, task_id: str) -> dict[str, Any]:
        """The JSON Schema of the step's form, for portals with their own form library."""
        return portal.form_schema(self.context, task_id)

    def render_form(
        self,
        task_id: str,
        *,
        errors: Sequence[FieldError] = (),
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """The step's form as an accessible HTML fragment for portals, beside the applicant's checklist.

        A ready or paused step's form is prefilled from the case data; a completed step's is drawn
        read-only with the values it took (no `<form>`, no submit button). `errors` are a refused
        submission's field errors (`FormDataError.fields`), shown at their fields; `data`, the values
        that submission held, shown again over the case's. A step paused for a supplement (补正)
        shows its 一次性告知: what must be corrected.
        """
        from ..stepforms.render import render_form

        task = self.task(task_id)
        with self.context.read() as session:
            definition = self.context.definition(session, deployments.of_case(session, task.case))
        step = definition.bundle.step(task.step)
        if step is None:
            raise NotFoundError(f"环节 {task.step!r} 不在事项包 {definition.key!r} 中")
        completed = task.state == "completed"
        values = cases.step_data(self.context, task.case, task.id) if completed else self.case_data(task.case)
        return render_form(
            schema=definition.form_of(task.step),
            step=step,
            bundle=definition.bundle,
            data={**values, **(data or {})},
            task_id=task.id,
            errors=errors,
            readonly=completed,
            notice=task.pause if task.pause and task.pause["reason"] == "supplement" else None,
        )

    def complete_task(
        self, task_id: str, *, data: Mapping[str, Any] | None = None, actor: str | None = None
    ) -> Task:
        """Complete a ready step with its form data and run the case to its next wait state.

        `data` is the step's form data (a JSON object), checked against the step's form schema
        before the write transaction takes its lock; fields the form marks `"x-hf-sensitive"` are
        sealed at rest with the rest of the case's state. The returned Task is the completed step
        (`state="completed"`, `ended_at` an aware UTC datetime) with the steps this completion made
        ready (`ready`).

        Of two concurrent completions of the same step exactly one wins; the other gets
        `ConflictError`. Completions of different parallel steps of one case both succeed.

        Raises (nothing is stored when one is raised):
            NotFoundError: no task `task_id`.
            StateError: the step is not ready (completed, cancelled, paused) or its case has ended.
            FormDataError: the form refuses the data; `fields` holds one Chinese message per field
                (naming the field and the rule, never the value).
            InputError: `data` is not a JSON object.
            ExpressionError: a designer expression on the way to the next wait state was refused or
                failed (names the element and the expression).
            ConflictError: another completion of this step won, or the database stayed busy; retry
                only if the step is still ready.
            ConfigError: the case's stored state is sealed with a key that is not configured.
        """
        if data is not None and not isinstance(data, Mapping):
            raise InputError("环节数据须为 JSON 对象")
        return tasks.complete(self.context, task_id, dict(data or {}), actor)

    def deliver_message(
        self, case_id: str, name: str, data: Mapping[str, Any] | None = None, *, actor: str | None = None
    ) -> tuple[Task, ...]:
        """Deliver message `name` (the `bpmn:message` name) to a case waiting for it; the steps it made ready.

        One transaction: `data` (checked against the waiting element's `hf:form`, if it has one) is
        merged into the case, which runs to its next wait state; `message.delivered` is audited and
        published. Who may: the portal's service account, or a handler of the waiting element's
        department (§8 `message.deliver`). InputError (exit 2, nothing changed) when no element of
        the case waits for `name`; FormDataError when the form refuses the data.
        """
        if data is not None and not isinstance(data, Mapping):
            raise InputError("消息数据须为 JSON 对象")
        return messages.deliver(self.context, case_id, name, dict(data or {}), actor)

    def claim_task(self, task_id: str, *, actor: str | None = None) -> Task:
        """A handler takes a step into their own queue; of two at once one wins, the other gets ConflictError."""
        return assignment.claim(self.context, task_id, actor=actor)

    def release_task(self, task_id: str, *, actor: str | None = None) -> Task:
        """The claimant puts the step back into its department's queue."""
        return assignment.release(self.context, task_id, actor=actor)

    def assign_task(self, task_id: str, *, to: str, actor: str | None = None) -> Task:
        """The department head gives the step to one of the department's handlers."""
        return assignment.assign(self.context, task_id, to=to, actor=actor)

    def transfer_task(self, task_id: str, *, to: str, reason: str, actor: str | None = None) -> Task:
        """转办: the step moves to department `to`'s queue, its deadlines unchanged (outbox task.transferred)."""
        return assignment.transfer(self.context, task_id, to=to, reason=reason, actor=actor)

    def pause(
        self,
        task_id: str,
        *,
        reason: str,
        kind: str | None = None,
        note: str | None = None,
        notice: str | None = None,
        materials: Sequence[str] = (),
        actor: str | None = None,
    ) -> Task:
        """Stop a ready step's clock (补正 supplement, 特别程序 special_procedure, 挂起 suspended).

        `special_procedure` needs `kind`, one of the step's declared `hf:specialProcedure` kinds
        (only up to its limit is left out of the step's limits; past it a
        `special_procedure_overrun` signal fires and the time counts again); `suspended` needs a
        `note` (past the county's suspend limit a `suspension_overrun` signal fires); a
        `supplement` carries its 一次性告知: `notice` (text) and/or `materials` (ids of the step's
        materials). A second supplement of a step instance issues a `repeated_supplement` yellow
        card. InputError when the request does not fit the step.
        """
        if reason not in PAUSE_REASONS:
            raise InputError(f"未知的暂停原因 {reason!r}", hint=f"可选值：{'、'.join(PAUSE_REASONS)}")
        if isinstance(materials, str):
            raise InputError("材料须为材料编号的列表")
        return tasks.pause(
            self.context,
            task_id,
            reason=reason,
            kind=kind,
            note=note,
            notice=notice,
            materials=list(materials),
            actor=actor,
        )

    def resume(self, task_id: str, *, actor: str | None = None) -> Task:
        """Restart a paused step's clock; its deadlines move by the working days it was paused."""
        return tasks.resume(self.context, task_id, actor=actor)

    def extend(
        self, task_id: str, *, days: int, approver: str, reason: str, actor: str | None = None
    ) -> Task:
        """延长审批: move a step's promised and legal deadlines (and its signals) by `days` working days."""
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= limits.MAX_EXTENSION_DAYS:
            raise InputError(
                f"延期（延长审批）的天数须为 1 到 {limits.MAX_EXTENSION_DAYS} 之间的整数个工作日，"
                f"收到 {days!r}",
                hint=f"传入 --days 1..{limits.MAX_EXTENSION_DAYS}",
            )
        if not (approver or "").strip():
            raise InputError("延期须写明审批负责人", hint="传入 --approver NAME")
        if not (reason or "").strip():
            raise InputError(
                "延期须写明延长理由（理由将告知申请人）",
                hint="传入 --reason TEXT",
            )
        return tasks.extend(
            self.context, task_id, days=days, approver=approver.strip(), reason=reason.strip(), actor=actor
        )

    # -- BPMN timers ----------------------------------------------------------------------
    def due_timer_cases(self, *, limit: int = 100) -> list[str]:
        """Open cases whose next BPMN timer is due (indexed on next_timer_at)."""
        return cases.due_timer_cases(self.context, limit)

    def fire_timers(self, case_id: str) -> bool:
        """Load a case and let its due BPMN timers fire (one transaction); False if none was due."""
        return cases.fire_timers(self.context, case_id) is not None

    def mark_case_error(self, case_id: str, message: str) -> None:
        """A case that cannot advance (e.g. a refused expression in a timer) is marked, with an event."""
        cases.mark_error(self.context, case_id, message)

    # -- supervision ----------------------------------------------------------------------
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
        self.context.check_schema()
        return Sweeper(
            SweepPort(self.context),
            batch_size=batch_size,
            budget=budget,
            lease=lease,
            timers=timers,
            worker=worker,
            stop=stop,
            on_batch=on_batch,
        ).run()

    def cards(
        self,
        *,
        state: str | None = None,
        case: str | None = None,
        color: str | None = None,
        department: str | None = None,
        overdue: str | None = None,
        actor: str | None = None,
    ) -> list[Card]:
        """Yellow and red cards, oldest first; `state="open"` means not closed yet; `overdue` a record
        phase (verify, rectify, review, revisit, or any) whose deadline has passed while it is open.
        Given `actor`, the cards of the cases that actor may read (DESIGN §8)."""
        return supervision.list_cards(
            self.context,
            state=state,
            case=case,
            color=color,
            department=department,
            overdue=overdue,
            actor=actor,
        )

    def card(self, card_id: str, *, actor: str | None = None) -> Card:
        """A card with its supervision record, phase deadlines and accountability entries; given
        `actor`, PermissionDenied unless that actor may read the card's case."""
        with self.context.read() as session:
            years = self.context.calendar(session).provisional_years
            found = supervision.show_card(session, card_id, self.context.now(), years)
        portal.check_readable(self.context, found.case, actor)
        return found

    def advance_card(
        self, card_id: str, *, to: str, note: str, conclusion: str | None = None, actor: str | None = None
    ) -> Card:
        """Move a card's record one step with a note (DESIGN §9, supervision/records.py): red cards go
        through 上级复核 (reviewing) and 回访 (revisiting) before they close. Closing needs a
        conclusion; a red one closed 属实 needs an accountability entry. Records are never deleted."""
        return supervision.advance_card(
            self.context, card_id, to=to, note=note, conclusion=conclusion, actor=actor
        )

    def account_card(
        self, card_id: str, *, person: str, measure: str, note: str, actor: str | None = None
    ) -> Card:
        """Record an accountability entry (责任追究) on a card found true; see supervision/accountability.py."""
        return supervision.account(
            self.context, card_id, person=person, measure=measure, note=note, actor=actor
        )

    def referrals(self, *, state: str | None = None, actor: str | None = None) -> list[Referral]:
        """Referrals to 纪检监察机关, for `discipline` users only (PermissionDenied for others)."""
        return supervision.referrals(self.context, state=state, actor=actor)

    def close_referral(self, referral_id: str, *, outcome: str, actor: str | None = None) -> Referral:
        """Record a referral's outcome; it closes."""
        return supervision.close_referral(self.context, referral_id, outcome=outcome, actor=actor)

    def events(self, *, after: int = 0, limit: int = 100, actor: str | None = None) -> list[OutboxEvent]:
        """Outbox events (case and step changes, signals, cards, records; docs/events.md), id > `after`.

        Keep the last id as the cursor: reading again with it returns only newer events, so a
        consumer sees each event once. Ids become visible in increasing order. Given `actor`, only
        the events of cases that actor may read (DESIGN §8; events of no case: readers of all).
        """
        return supervision.events(self.context, after=after, limit=limit, actor=actor)

    def supervision_report(
        self, *, start: date | None = None, end: date | None = None, department: str | None = None
    ) -> SupervisionReport:
        """The 红黄牌 supervision report: efficiency per department and bundle, cards, records, 好差评.

        Steps belong to the period [start, end] (local dates, either open) by the day they were
        accepted; `department` keeps one lane code. The figures stand at the engine's clock and are
        computed from rows read in one read transaction (supervision/figures.py has every
        definition). An empty period gives a report with `empty: true`; a reversed period and an
        unknown department raise InputError / NotFoundError.
        """
        return supervision.report(self.context, start=start, end=end, department=department)

    def bulletin(
        self, *, start: date | None = None, end: date | None = None, department: str | None = None
    ) -> Bulletin:
        """The publishable 红牌通报 of a period: red cards, their conclusions and measures, no applicant data."""
        return supervision.bulletin(self.context, start=start, end=end, department=department)
