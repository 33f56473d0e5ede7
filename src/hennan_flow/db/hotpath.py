"""The hot-path store: every driver-level SQL statement of the engine's hot path, in one place.

Starting a case, completing a step and reading a work queue touch a dozen rows each; through the ORM
each costs a flush and an identity-map round, through Core ~50 µs of statement machinery, through the
driver's cursor ~10 µs (`raw.py`). Those paths therefore speak SQL on the cursor of the transaction,
and this module holds all of that SQL: the case row and its task fragments (`hf_case`,
`hf_case_task`), the work queue (`hf_task`), the case lock, the stored deadlines and their signals
(`hf_deadline`, `hf_signal`), the audit log and the outbox (`hf_event`, `hf_outbox`, batched by the
journal), and the two lookups of definitions and calendars a step makes. The rarer paths (pauses, extensions, cards, services) use the ORM.

Every function takes the transaction's `Raw`; SQL is written with `?` placeholders. Every case-owned
statement is keyed by the case id or a row id (DESIGN §5: the schema can be distributed by case id).
The writes whose results nothing reads go through `Raw.later` (on PostgreSQL they ride with the
transaction's next statement in one pipeline), the reads a completion makes under the case lock
through one `Raw.batch` (`completion_reads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..sealing import open_value, seal
from .raw import Raw

__all__ = [
    "CASE_COLUMNS",
    "CaseRecord",
    "TaskRecord",
    "cancel_signals",
    "close_armed_in_time",
    "close_deadline",
    "completion_reads",
    "count_instances",
    "deadline_arm",
    "deadline_views",
    "definition_keys",
    "disarm",
    "due_signal_ids",
    "end_case",
    "end_task",
    "insert_case",
    "insert_deadline",
    "insert_events",
    "insert_outbox",
    "insert_task",
    "latest_definition",
    "lock_case",
    "lock_cases",
    "newest_calendar",
    "open_tasks",
    "outbox_lock",
    "queue",
    "read_case",
    "remove_fragments",
    "signal_views",
    "store_armed_signals",
    "stored_calendars",
    "task_and_definition",
    "task_of",
    "update_case",
    "upsert_fragments",
    "workflow_state",
]

CHUNK = 500  # ids or rows per statement (SQLite's parameter limit is far above 500 × 7)
# the columns of personal data this module reads and writes, sealed with the engine's key (sealing.py)
APPLICANT, WF_STATE, FRAGMENT = "hf_case.applicant", "hf_case.wf_state", "hf_case_task.doc"


# -- cases --------------------------------------------------------------------------------------------

CASE_COLUMNS = (
    "definition_id, key, state, applicant, started_at, ended_at, started_by, rev, spiff_version,"
    " next_timer_at, error"
)


@dataclass(slots=True)
class CaseRecord:
    """A case row as the hot path reads it (its workflow state left out: the cached workflow has it).

    `loaded_state` and `loaded_timer` are what the row held when read, so `update_case` writes only
    what changed: every indexed column written is an index entry rewritten.
    """

    id: str
    definition_id: int
    key: str
    state: str
    applicant: str | None
    started_at: datetime | None
    ended_at: datetime | None
    started_by: str | None
    rev: int
    spiff_version: str
    next_timer_at: datetime | None
    error: str | None
    loaded_state: str | None = None
    loaded_timer: datetime | None = None


def case_record(raw: Raw, case_id: str, found: Sequence[Any]) -> CaseRecord:
    """A CaseRecord of the CASE_COLUMNS values read for `case_id`."""
    definition_id, key, state, applicant, started, ended, by, rev, spiff, timer, error = found
    next_timer_at = raw.instant(timer)
    return CaseRecord(
        id=case_id,
        definition_id=definition_id,
        key=key,
        state=state,
        applicant=None if applicant is None else open_value(applicant, APPLICANT),
        started_at=raw.instant(started),
        ended_at=raw.instant(ended),
        started_by=by,
        rev=rev,
        spiff_version=spiff,
        next_timer_at=next_timer_at,
        error=error,
        loaded_state=state,
        loaded_timer=next_timer_at,
    )


def lock_case(raw: Raw, case_id: str, columns: str = "id") -> tuple[Any, ...] | None:
    """One writer per case: the case row locked (PostgreSQL `FOR UPDATE`; a SQLite write transaction
    holds the database's write lock from its `BEGIN IMMEDIATE`) and `columns` of it; None if none."""
    return raw.row(
        f"SELECT {columns} FROM hf_case WHERE id = ?" + (" FOR UPDATE" if raw.postgres else ""), (case_id,)
    )


def lock_cases(raw: Raw, case_ids: Sequence[str]) -> None:
    """Lock several cases, sorted, so that two transactions locking overlapping sets cannot deadlock."""
    if not raw.postgres:
        return  # the write transaction holds the database's write lock already
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        raw.rows(
            f"SELECT id FROM hf_case WHERE id IN ({raw.placeholders(len(chunk))}) ORDER BY id FOR UPDATE",
            chunk,
        )


def read_case(raw: Raw, case_id: str, *, lock: bool) -> CaseRecord | None:
    """The case row; `lock`: taken with the case lock (`lock_case`)."""
    found = (
        lock_case(raw, case_id, CASE_COLUMNS)
        if lock
        else raw.row(f"SELECT {CASE_COLUMNS} FROM hf_case WHERE id = ?", (case_id,))
    )
    return None if found is None else case_record(raw, case_id, found)


def workflow_state(raw: Raw, case_id: str) -> tuple[str, list[tuple[str, str]]]:
    """The case's stored workflow: its top document and its task fragments."""
    found = raw.row("SELECT wf_state FROM hf_case WHERE id = ?", (case_id,))
    rows = raw.rows("SELECT task_id, doc FROM hf_case_task WHERE case_id = ?", (case_id,))
    return (open_value(found[0], WF_STATE) if found else ""), [(t, open_value(d, FRAGMENT)) for t, d in rows]


def insert_case(raw: Raw, case: CaseRecord, *, top: str, spiff_version: str) -> None:
    raw.run(
        "INSERT INTO hf_case (id, definition_id, key, state, applicant, started_at, ended_at, started_by, rev,"
        " spiff_version, wf_state, next_timer_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL)",
        (
            case.id,
            case.definition_id,
            case.key,
            case.state,
            None if case.applicant is None else seal(case.applicant, APPLICANT),
            raw.ts(case.started_at),
            raw.ts(case.ended_at),
            case.started_by,
            spiff_version,
            seal(top, WF_STATE),
            raw.ts(case.next_timer_at),
        ),
    )


def update_case(raw: Raw, case: CaseRecord, *, top: str) -> None:
    """Write the case's new workflow document and what else changed since it was read, guarded by its
    revision: StaleDataError when another transaction changed it first (raised before the commit;
    on PostgreSQL when the statement was sent, with the transaction's next one: `Raw.later`)."""
    sets, params = ["wf_state = ?", "rev = rev + 1"], [seal(top, WF_STATE)]
    if case.state != case.loaded_state:
        sets += ["state = ?", "ended_at = ?"]
        params += [case.state, raw.ts(case.ended_at)]
    if case.next_timer_at != case.loaded_timer:
        sets.append("next_timer_at = ?")
        params.append(raw.ts(case.next_timer_at))
    sql = f"UPDATE hf_case SET {', '.join(sets)} WHERE id = ? AND rev = ?"
    raw.later(
        sql, (*params, case.id, case.rev), expect=1, stale=f"case {case.id} changed under this operation"
    )


def end_case(raw: Raw, case: CaseRecord) -> None:
    """Write the end of a case that is not written with its workflow (a termination)."""
    raw.run(
        "UPDATE hf_case SET state = ?, ended_at = ?, next_timer_at = NULL, rev = rev + 1"
        " WHERE id = ? AND state = 'open'",
        (case.state, raw.ts(case.ended_at), case.id),
    )


_UPSERT = " ON CONFLICT (case_id, task_id) DO UPDATE SET doc = excluded.doc"


def upsert_fragments(raw: Raw, case_id: str, changed: dict[str, str]) -> None:
    """Write the changed task fragments: on PostgreSQL one multi-row statement (a step changes ~5;
    one statement costs the server and psycopg far less than five), on SQLite one `executemany`."""
    rows = [(case_id, task_id, seal(doc, FRAGMENT)) for task_id, doc in changed.items()]
    if raw.postgres:
        _insert_many(raw, "hf_case_task", "case_id, task_id, doc", rows, _UPSERT)
    else:
        raw.many("INSERT INTO hf_case_task (case_id, task_id, doc) VALUES (?, ?, ?)" + _UPSERT, rows)


def remove_fragments(raw: Raw, case_id: str, task_ids: Sequence[str] | None = None) -> None:
    """Delete these task fragments of the case (None: all of them, the state is stored whole)."""
    if task_ids is None:
        raw.later("DELETE FROM hf_case_task WHERE case_id = ?", (case_id,))
        return
    for start in range(0, len(task_ids), CHUNK):
        gone = task_ids[start : start + CHUNK]
        raw.later(
            f"DELETE FROM hf_case_task WHERE case_id = ? AND task_id IN ({raw.placeholders(len(gone))})",
            (case_id, *gone),
        )


# -- definitions and calendars ---------------------------------------------------------------------


def latest_definition(raw: Raw, key: str) -> tuple[int, int] | None:
    """(id, version) of the newest deployed version of `key`."""
    found = raw.row(
        "SELECT id, version FROM hf_definition WHERE key = ? ORDER BY version DESC LIMIT 1", (key,)
    )
    return None if found is None else (int(found[0]), int(found[1]))


def definition_keys(raw: Raw) -> list[str]:
    return sorted({k for (k,) in raw.rows("SELECT DISTINCT key FROM hf_definition")})


def newest_calendar(raw: Raw) -> int:
    """The id of the newest stored calendar file (0: none)."""
    found = raw.row("SELECT MAX(id) FROM hf_calendar")
    return int(found[0] or 0) if found else 0


def stored_calendars(raw: Raw) -> list[tuple[str, str]]:
    """(text, source) of every stored calendar file, in load order."""
    return [(text, source) for text, source in raw.rows("SELECT text, source FROM hf_calendar ORDER BY id")]


# -- the work queue ---------------------------------------------------------------------------------


@dataclass(slots=True)
class TaskRecord:
    """A work-queue row (one user step instance)."""

    id: str
    case_id: str
    step: str
    name: str
    department: str | None
    state: str
    ready_at: datetime | None
    ended_at: datetime | None = None
    actor: str | None = None
    doc_order: int | None = None  # its element's place in the document: the queue's order at one instant
    claimed_by: str | None = None  # the user who claimed it (DESIGN §8); None: in the department queue


_TASK_COLUMNS = "id, case_id, step, name, department, state, ready_at, ended_at, actor, doc_order, claimed_by"
QUEUE_ORDER = "ready_at, doc_order IS NULL, doc_order, id"  # ready together: document order, then id
_OPEN = "case_id = ? AND state IN ('ready', 'paused')"  # a case's ready and paused steps
_INSTANCES = "SELECT COUNT(*) FROM hf_task WHERE case_id = ? AND step = ?"  # a step's rework cycles


def _task_record(raw: Raw, found: Sequence[Any]) -> TaskRecord:
    tid, cid, step, name, dept, state, ready, ended, actor, order, claimed = found
    return TaskRecord(
        tid, cid, step, name, dept, state, raw.instant(ready), raw.instant(ended), actor, order, claimed
    )


def task_of(raw: Raw, task_id: str) -> TaskRecord | None:
    found = raw.row(f"SELECT {_TASK_COLUMNS} FROM hf_task WHERE id = ?", (task_id,))
    return None if found is None else _task_record(raw, found)


def completion_reads(
    raw: Raw, case_id: str, task_id: str
) -> tuple[CaseRecord | None, TaskRecord | None, list[TaskRecord], int, int]:
    """What a completion reads under the case lock, sent together (PostgreSQL: one round trip with
    the `BEGIN`): the case row locked (`lock_case`), then the step with the ids of the newest stored
    directory and calendar (0: none; one statement), and the case's open steps."""
    found = raw.batch(
        [
            (
                f"SELECT {CASE_COLUMNS} FROM hf_case WHERE id = ?" + (" FOR UPDATE" if raw.postgres else ""),
                (case_id,),
            ),
            (
                f"SELECT {_TASK_COLUMNS}, (SELECT MAX(id) FROM hf_directory), (SELECT MAX(id) FROM hf_calendar)"
                " FROM hf_task WHERE id = ?",
                (task_id,),
            ),
            (f"SELECT {_TASK_COLUMNS} FROM hf_task WHERE {_OPEN} ORDER BY {QUEUE_ORDER}", (case_id,)),
        ]
    )
    cases, tasks, open_rows = (r if isinstance(r, list) else [] for r in found)
    return (
        case_record(raw, case_id, cases[0]) if cases else None,
        _task_record(raw, tasks[0][:-2]) if tasks else None,
        [_task_record(raw, r) for r in open_rows],
        int(tasks[0][-2] or 0) if tasks else 0,
        int(tasks[0][-1] or 0) if tasks else 0,
    )


def task_and_definition(raw: Raw, task_id: str) -> tuple[TaskRecord, int] | None:
    """The task row and the id of its case's definition (what a completion checks the form data
    against before it takes any lock): one statement."""
    columns = ", ".join(f"t.{c.strip()}" for c in _TASK_COLUMNS.split(","))
    found = raw.row(
        f"SELECT {columns}, c.definition_id FROM hf_task t JOIN hf_case c ON c.id = t.case_id WHERE t.id = ?",
        (task_id,),
    )
    return None if found is None else (_task_record(raw, found[:-1]), int(found[-1]))


def queue(
    raw: Raw,
    *,
    case_id: str | None = None,
    department: str | None = None,
    state: str | None = None,
    assignee: str | None = None,
) -> list[TaskRecord]:
    """A work queue: the task rows of a case, a department (lane), a state (`open`: ready or paused)
    and a claimant (each optional), in queue order."""
    where, params = [], []
    if state == "open":  # ready or paused (the default `task list`)
        where.append("state IN ('ready', 'paused')")
        state = None
    for column, value in (
        ("case_id", case_id),
        ("department", department),
        ("state", state),
        ("claimed_by", assignee),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    return _tasks(raw, " AND ".join(where) or "1 = 1", params)


def open_tasks(raw: Raw, case_id: str) -> list[TaskRecord]:
    """The case's ready and paused steps, in queue order."""
    return _tasks(raw, _OPEN, (case_id,))


def _tasks(raw: Raw, where: str, params: Sequence[Any]) -> list[TaskRecord]:
    rows = raw.rows(f"SELECT {_TASK_COLUMNS} FROM hf_task WHERE {where} ORDER BY {QUEUE_ORDER}", params)
    return [_task_record(raw, r) for r in rows]


def count_instances(raw: Raw, case_id: str, step: str) -> int:
    """How many instances of `step` the case has had (rework cycles)."""
    found = raw.row(_INSTANCES, (case_id, step))
    return int(found[0]) if found else 0


def insert_task(raw: Raw, task: TaskRecord) -> None:
    raw.later(
        "INSERT INTO hf_task (id, case_id, step, name, department, state, ready_at, doc_order)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task.id,
            task.case_id,
            task.step,
            task.name,
            task.department,
            task.state,
            raw.ts(task.ready_at),
            task.doc_order,
        ),
    )


def end_task(raw: Raw, task: TaskRecord) -> None:
    """Write a step's end: its final state, when, and (completed) by whom (keyed by the case too, so
    the statement routes to the case's shard on a distributed PostgreSQL: docs/scale.md)."""
    raw.later(
        "UPDATE hf_task SET state = ?, ended_at = ?, actor = ? WHERE id = ? AND case_id = ?",
        (task.state, raw.ts(task.ended_at), task.actor, task.id, task.case_id),
    )


# -- stored deadlines and their signals ---------------------------------------------------------------

DEADLINE_COLUMNS = (
    "id, case_id, task_id, scope, step, kind, unit, legal, promised, notice_before, yellow_light_at,"
    " red_after, accepted_at, pending, calendar_version, shift_workdays, promised_due, legal_due, arm_at,"
    " notice_due, yellow_light_due, yellow_due, red_due, red_trigger"
)


def insert_deadline(raw: Raw, values: Sequence[Any]) -> None:
    """One deadline row, its signals riding on it (`DEADLINE_COLUMNS`, instants already `raw.ts`)."""
    raw.later(
        f"INSERT INTO hf_deadline ({DEADLINE_COLUMNS}) VALUES ({raw.placeholders(len(values))})", values
    )


def store_armed_signals(
    raw: Raw, ids: Sequence[str], *, name: str, kind: str, trigger: str, column: str, red: bool
) -> None:
    """One signal of these armed deadlines becomes an `hf_signal` row, from the `column` it rides in
    (`red`: the trigger the row chose, legal_passed, else the default)."""
    chosen = "COALESCE(red_trigger, ?)" if red else "?"
    raw.run(
        "INSERT INTO hf_signal (deadline_id, case_id, task_id, scope, step, name, kind, trigger, due_at,"
        f" state, rev) SELECT id, case_id, task_id, scope, step, ?, ?, {chosen}, {column},"
        f" 'pending', 0 FROM hf_deadline WHERE id IN ({raw.placeholders(len(ids))}) AND arm_at IS NOT NULL"
        f" AND {column} IS NOT NULL ORDER BY id",
        (name, kind, trigger, *ids),
    )


def disarm(raw: Raw, ids: Sequence[str]) -> None:
    """These armed deadlines' signals were stored: nothing rides on the rows any more."""
    raw.run(
        "UPDATE hf_deadline SET arm_at = NULL, notice_due = NULL, yellow_light_due = NULL,"
        " yellow_due = NULL, red_due = NULL, red_trigger = NULL"
        f" WHERE id IN ({raw.placeholders(len(ids))}) AND arm_at IS NOT NULL",
        ids,
    )


def close_armed_in_time(raw: Raw, owner: str, at: datetime) -> tuple[bool, bool, bool]:
    """Close a deadline still armed with no signal due yet (a step ended in time), and else read
    whether it is open and armed: (closed now, open, armed). On PostgreSQL one statement: the update,
    and the row as it was before it (what matters only when the update changed nothing)."""
    when = raw.ts(at)
    close = "UPDATE hf_deadline SET closed_at = ?, arm_at = NULL WHERE id = ? AND closed_at IS NULL AND arm_at >= ?"
    if not raw.postgres:
        if raw.run(close, (when, owner, when)):
            return True, False, False
        return (False, *deadline_arm(raw, owner))
    [found] = raw.batch(
        [
            (
                f"WITH closed AS ({close} RETURNING 1) SELECT (SELECT count(*) FROM closed), count(id),"
                " count(arm_at) FROM hf_deadline WHERE id = ? AND closed_at IS NULL",
                (when, owner, when, owner),
            )
        ]
    )
    assert isinstance(found, list)
    changed, open_, armed = found[0]
    return (True, False, False) if changed else (False, bool(open_), bool(armed))


_ARM = "SELECT arm_at FROM hf_deadline WHERE id = ? AND closed_at IS NULL"


def deadline_arm(raw: Raw, owner: str) -> tuple[bool, bool]:
    """(open, armed) of a deadline row; (False, False) when it has none or it is closed."""
    found = raw.row(_ARM, (owner,))
    return (found is not None, found is not None and found[0] is not None)


def close_deadline(raw: Raw, owner: str, at: datetime) -> None:
    raw.run("UPDATE hf_deadline SET closed_at = ? WHERE id = ?", (raw.ts(at), owner))


def due_signal_ids(raw: Raw, owner: str, before: datetime) -> list[int]:
    """The deadline's stored signals due strictly before `before` and not fired yet, oldest first."""
    rows = raw.rows(
        "SELECT id FROM hf_signal WHERE deadline_id = ? AND state IN ('pending', 'claimed') AND due_at < ?"
        " ORDER BY due_at",
        (owner, raw.ts(before)),
    )
    return [int(i) for (i,) in rows]


def cancel_signals(raw: Raw, owner: str) -> None:
    """The deadline's signals that did not fire never will."""
    raw.run(
        "UPDATE hf_signal SET state = 'cancelled', rev = rev + 1 WHERE deadline_id = ?"
        " AND state IN ('pending', 'paused', 'claimed', 'waiting')",
        (owner,),
    )


def deadline_views(raw: Raw, owners: Sequence[str]) -> list[tuple[Any, ...]]:
    """What a view shows of these deadline rows (id first, then the riding instants last)."""
    return raw.rows(
        "SELECT id, kind, unit, promised, legal, pending, paused_since, promised_due, legal_due,"
        " calendar_version, notice_before, yellow_light_at, accepted_at,"
        " arm_at, notice_due, yellow_light_due, yellow_due, red_due"
        f" FROM hf_deadline WHERE id IN ({raw.placeholders(len(owners))})",
        owners,
    )


def signal_views(raw: Raw, owners: Sequence[str]) -> list[tuple[Any, ...]]:
    """(deadline id, name, due instant, state) of these deadlines' stored signals, by instant."""
    return raw.rows(
        f"SELECT deadline_id, name, due_at, state FROM hf_signal WHERE deadline_id IN ({raw.placeholders(len(owners))})"
        " ORDER BY due_at, id",
        owners,
    )


# -- the audit log and the outbox (written by db.journal) -------------------------------------------

OUTBOX_LOCK_ID = 0x68665F6F7574  # pg_advisory_xact_lock key, "hf_out"


def _insert_many(raw: Raw, table: str, columns: str, rows: Sequence[Sequence[Any]], then: str = "") -> None:
    """One multi-row INSERT per chunk of rows (`then`: its ON CONFLICT clause)."""
    placeholders = "(" + ", ".join(["?"] * (columns.count(",") + 1)) + ")"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        raw.later(
            f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([placeholders] * len(chunk)) + then,
            [value for row in chunk for value in row],
        )


def insert_events(raw: Raw, rows: Sequence[Sequence[Any]]) -> None:
    """Audit events (case_id, task_id, at, type, step, actor, role, detail)."""
    _insert_many(raw, "hf_event", "case_id, task_id, at, type, step, actor, role, detail", rows)


def outbox_lock(raw: Raw) -> None:
    """PostgreSQL: the transaction-scoped lock that makes outbox ids visible in increasing order."""
    raw.later("SELECT pg_advisory_xact_lock(?)", (OUTBOX_LOCK_ID,))


def insert_outbox(raw: Raw, rows: Sequence[Sequence[Any]]) -> None:
    """Outbox events (type, case_id, ref, at, recorded_at, payload)."""
    _insert_many(raw, "hf_outbox", "type, case_id, ref, at, recorded_at, payload", rows)
