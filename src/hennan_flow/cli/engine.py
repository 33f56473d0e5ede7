"""`db`, `deploy`, `case` and `task`: the engine from the command line (DESIGN §6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .. import limits
from ..clock.instants import local_iso
from ..errors import InputError, SimulationError
from ..inputs import ReadRefused, read_input
from ._context import CliContext, format_option, forms_option, pass_cli, write_report
from ._params import DAYS, DOCUMENT
from ._text import STATE_NAMES, deadline_lines, event_name, table, when
from .outcomes import case_refuse, case_withdraw, outcome_lines, task_return

__all__ = ["case", "db", "deploy", "parse_json_arg", "task"]


def parse_json_arg(value: str | None, what: str) -> dict[str, Any] | None:
    """`--data '{…}'` or `--data @file.json`: a JSON object, or a clear error.

    A file is read as a regular file of at most `limits.MAX_DATA_BYTES`, in UTF-8 or, with its byte
    order mark, UTF-16/32 (RFC 8259 §8.1 asks for UTF-8; Windows tools write UTF-16); the parsed
    document is held to `limits.check_data` (nesting, integer size, UTF-8 text).
    """
    if value is None:
        return None
    source = what
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        source = f"{what} 文件 {path}"
        try:
            raw = read_input(path, max_bytes=limits.MAX_DATA_BYTES)
        except ReadRefused as exc:
            raise InputError(
                f"无法读取 {source}：{exc.message}", hint=exc.hint or "检查 @ 之后的路径"
            ) from exc
        try:
            text = raw.decode(json.detect_encoding(raw)).removeprefix("\ufeff")
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{source} 不是 UTF-8 文本", hint="把文件另存为 UTF-8 编码") from exc
    parsed = limits.load_json(text, source, option=what)
    if not isinstance(parsed, dict):
        raise InputError(f"{source} 须为 JSON 对象，不能是 {type(parsed).__name__}")
    return parsed


# -- db -------------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Create, migrate and inspect the database schema."""


@db.command("upgrade")
@click.option("--simulation", is_flag=True, help="Mark a new, empty database as a simulation database.")
@format_option()
@pass_cli
def db_upgrade(obj: CliContext, simulation: bool) -> None:
    """Create or migrate the schema to the newest revision."""
    if obj.now is not None:
        raise SimulationError("--now 对 db upgrade 没有意义", hint="去掉 --now")
    from ..engine.facade import Engine

    engine = Engine(obj.database_url())
    try:
        revision = engine.upgrade(simulation=simulation)
        status = engine.status()
    finally:
        engine.close()
    obj.emit(
        status, f"schema at revision {revision}" + (" (simulation database)" if status["simulation"] else "")
    )


@db.command("current")
@format_option()
@pass_cli
def db_current(obj: CliContext) -> None:
    """Show the schema revision and the simulation mark."""
    from ..engine.facade import Engine

    engine = Engine(obj.database_url())
    try:
        status = engine.status()
    finally:
        engine.close()

    def text() -> str:
        rev = status["revision"] or "none (run: hennan-flow db upgrade)"
        behind = "" if status["up_to_date"] else f" (newest: {status['head']}; run: hennan-flow db upgrade)"
        sim = {True: "yes", False: "no", None: "unknown"}[status["simulation"]]
        return f"revision: {rev}{behind}\nsimulation: {sim}"

    obj.emit(status, text)


@db.command("downgrade", context_settings={"ignore_unknown_options": True})  # "-1" is a REVISION
@click.argument("revision")
@click.option(
    "--force",
    is_flag=True,
    help="Downgrade even though it deletes records: the tables of the revisions undone (deadlines, "
    "pauses, signals below 0002; cards, their records and the outbox below 0003; commitments, reviews "
    "below 0004; everything below 0001) are dropped with their rows, and upgrading again does not "
    "bring them back.",
)
@format_option()
@pass_cli
def db_downgrade(obj: CliContext, revision: str, force: bool) -> None:
    """Migrate the schema down to REVISION (an id such as 0004, -1, or base).

    Refused, with what would be lost, while the revisions undone hold records; --force deletes them.
    """
    from ..db import migrate
    from ..db.session import make_engine

    engine = make_engine(obj.database_url())
    try:
        losses = migrate.downgrade(engine, revision, force=force)
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    for loss in losses:
        click.echo(f"deleted: {loss.line()}", err=True)
    obj.emit(
        {
            "revision": current,
            "deleted": [{"revision": x.revision, "table": x.table, "rows": x.rows} for x in losses],
        },
        f"schema at revision {current or 'base (empty)'}",
    )


# -- deploy ---------------------------------------------------------------------------------


@click.command()
@click.argument("paths", nargs=-1, required=True)
@forms_option()
@click.option(
    "--allow-findings", is_flag=True, help="Deploy despite audit errors (never despite validate errors)."
)
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who deploys (recorded in the audit log)."
)
@format_option()
@pass_cli
def deploy(
    obj: CliContext, paths: tuple[str, ...], forms_dir: str | None, allow_findings: bool, actor: str | None
) -> None:
    """Validate, audit and store bundles; prints key, version and content hash per definition."""
    done = obj.engine().deploy(*paths, forms=forms_dir, allow_findings=allow_findings, actor=actor)
    obj.emit(
        [d.as_dict() for d in done],
        lambda: "\n".join(
            f"{d.key}\tv{d.version}\t{d.content_hash[:12]}\t{'deployed' if d.created else 'unchanged'}\t{d.name}"
            for d in done
        ),
    )


# -- case -----------------------------------------------------------------------------------


@click.group()
def case() -> None:
    """Start, list and show cases."""


case.add_command(case_refuse)
case.add_command(case_withdraw)


@case.command("start")
@click.argument("key")
@click.option("--data", type=DOCUMENT, default=None, help="Case data: JSON object or @file.json.")
@click.option("--applicant", type=DOCUMENT, default=None, help="Applicant: JSON object or @file.json.")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who starts the case.")
@format_option()
@pass_cli
def case_start(obj: CliContext, key: str, data: str | None, applicant: str | None, actor: str | None) -> None:
    """Start a case of the latest version of KEY; prints the case id (JSON: also its ready steps)."""
    started = obj.engine().start_case(
        key,
        data=parse_json_arg(data, "--data"),
        applicant=parse_json_arg(applicant, "--applicant"),
        actor=actor,
    )
    obj.emit({"id": started.id, "ready": [t.as_dict() for t in started.ready]}, started.id)


@case.command("message")
@click.argument("case_id")
@click.option("--name", required=True, help="The message's name (the name of its bpmn:message).")
@click.option(
    "--data", type=DOCUMENT, default=None, help="What the message brings: JSON object or @file.json."
)
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who delivers it (portal or handler)."
)
@format_option()
@pass_cli
def case_message(obj: CliContext, case_id: str, name: str, data: str | None, actor: str | None) -> None:
    """Deliver message NAME to case CASE_ID waiting for it (异地办理结果、第三方意见); prints the steps it made ready."""
    ready = obj.engine().deliver_message(case_id, name, parse_json_arg(data, "--data"), actor=actor)
    obj.emit(
        {"case": case_id, "message": name, "ready": [t.as_dict() for t in ready]},
        lambda: (
            f"案件 {case_id} 已收到消息 {name}"
            + (f"；待办：{'、'.join(t.step for t in ready)}" if ready else "；无新的待办步骤")
        ),
    )


@case.command("list")
@click.option(
    "--state", type=click.Choice(["open", "completed", "terminated", "refused", "withdrawn"]), default=None
)
@click.option("--key", default=None, help="Only cases of this bundle key.")
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Read as this user: only what they may read."
)
@format_option()
@pass_cli
def case_list(obj: CliContext, state: str | None, key: str | None, actor: str | None) -> None:
    """List cases, newest first."""
    found = obj.engine().cases(state=state, key=key, actor=actor)
    obj.emit(
        [
            {
                "id": c.id,
                "key": c.key,
                "version": c.version,
                "state": c.state,
                "started_at": local_iso(c.started_at),
                "ended_at": local_iso(c.ended_at),
            }
            for c in found
        ],
        lambda: table(
            ("案件", "事项", "状态", "受理时间", "办结时间"),
            [
                (c.id, f"{c.key} v{c.version}", _state(c.state), when(c.started_at), when(c.ended_at))
                for c in found
            ],
            empty="没有符合条件的案件。",
        ),
    )


_ROLE_NAMES = {
    "clerk": "综合窗口",
    "handler": "承办",
    "head": "部门负责人",
    "supervisor": "电子监察",
    "reviewer": "上级复核",
    "discipline": "纪检监察",
    "auditor": "审计",
    "admin": "管理员",
    "portal": "网上渠道",
    "system": "系统",
}


@case.command("show")
@click.argument("case_id")
@format_option()
@pass_cli
def case_show(obj: CliContext, case_id: str) -> None:
    """A case and its timeline of events (text: Chinese event names, departments, local time)."""
    engine = obj.engine()
    shown = engine.case(case_id)

    def text() -> str:
        bundle = engine.bundle(shown.key, shown.version)
        lines = [
            f"案件 {shown.id}  {bundle.name}（{shown.key} v{shown.version}）  {_state(shown.state)}",
            f"受理 {when(shown.started_at)}" + (f"  办结 {when(shown.ended_at)}" if shown.ended_at else ""),
            *deadline_lines(shown.deadlines, running=shown.state == "open"),
            *outcome_lines(shown),
            "",
        ]
        rows = []
        for e in shown.events:
            step = bundle.step(e.step) if e.step else None
            dept = bundle.department(step.department) if step is not None and step.department else None
            rows.append(
                (
                    when(e.at),
                    event_name(e.type),
                    f"{step.name}（{step.id}）" if step is not None else (e.step or ""),
                    dept.name if dept is not None else (step.department if step is not None else ""),
                    (e.actor or "") + (f"（{_ROLE_NAMES.get(e.role, e.role)}）" if e.role else ""),
                    _detail(e.detail),
                )
            )
        lines.append(table(("时间", "事件", "步骤", "部门", "办理人", "说明"), rows, empty="（时间线为空）"))
        return "\n".join(lines)

    obj.emit(shown.as_dict(), text)


_DETAIL_NAMES = {
    "reason": "原因",
    "days": "天数",
    "approver": "批准人",
    "material": "材料",
    "kind": "类别",
    "message": "信息",
    "version": "版本",
    "pending": "待定",
    "commitment": "告知承诺",
    "from": "原状态",
    "note": "备注",
    "notice": "补正告知",
    "materials": "补正材料",
}
_REASONS = {"supplement": "补正", "special_procedure": "特别程序", "suspended": "挂起"}


def _detail(detail: dict[str, Any]) -> str:
    """An event's detail as "原因: 补正；天数: 5", scalars only (nested values are in the JSON)."""
    parts = []
    for key, value in detail.items():
        if key == "materials" and isinstance(value, list):  # a 补正's 一次性告知: material ids
            value = "、".join(map(str, value))
        if isinstance(value, (dict, list, tuple)) or value is None or key not in _DETAIL_NAMES:
            continue
        shown = _REASONS.get(value, value) if key == "reason" and isinstance(value, str) else value
        parts.append(f"{_DETAIL_NAMES[key]}: {shown}")
    return "；".join(parts)


def _state(state: str) -> str:
    return STATE_NAMES.get(state, state)


# -- task -----------------------------------------------------------------------------------


@click.group()
def task() -> None:
    """Work queues: list and complete steps."""


task.add_command(task_return)


@task.command("list")
@click.option("--case", "case_id", default=None, help="Only steps of this case.")
@click.option("--department", default=None, help="Only steps of this department (lane code).")
@click.option(
    "--state",
    type=click.Choice(["ready", "paused", "completed", "cancelled"]),
    default=None,
    help="Only steps in this state (default: ready and paused ones).",
)
@click.option("--mine", is_flag=True, help="Only the steps claimed by or assigned to --actor.")
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Read as this user: only what they may read."
)
@format_option()
@pass_cli
def task_list(
    obj: CliContext,
    case_id: str | None,
    department: str | None,
    state: str | None,
    mine: bool,
    actor: str | None,
) -> None:
    """List steps (default: the open ones, ready and paused)."""
    if mine and not actor:
        raise click.UsageError("--mine 须与 --actor USER（或 HENNAN_FLOW_ACTOR）一起使用")
    found = obj.engine().tasks(
        case=case_id,
        department=department,
        state=state or "open",
        assignee=actor if mine else None,
        actor=actor,
    )

    def text() -> str:
        rows = []
        for t in found:
            d = t.deadlines or {}
            due = (
                when(d["promised_due"])
                if d.get("promised_due")
                else ("待日历数据" if d.get("pending") else "-")
            )
            left = d.get("workdays_left") if t.state in ("ready", "paused") else None
            rows.append(
                (
                    t.id,
                    t.case,
                    f"{t.name}（{t.step}）",
                    t.department or "-",
                    _state(t.state),
                    due,
                    ""
                    if left is None
                    else (f"剩 {left} 个工作日" if left >= 0 else f"超期 {-left} 个工作日"),
                )
            )
        where = f"部门 {department} " if department else ""
        return table(
            ("任务", "案件", "步骤", "部门", "状态", "承诺期限", "剩余"),
            rows,
            empty=f"{where}没有{_state(state) if state else '待办或暂停'}的步骤。",
        )

    obj.emit([t.as_dict() for t in found], text)


_NECESSITY = {"required": "必交", "optional": "选交", "tolerable": "容缺"}


@task.command("show")
@click.argument("task_id")
@format_option()
@pass_cli
def task_show(obj: CliContext, task_id: str) -> None:
    """One step: its department, state, deadlines (and what is pending), form, materials and pause."""
    engine = obj.engine()
    shown = engine.task(task_id)
    case = engine.case(shown.case)
    bundle = engine.bundle(case.key, case.version)
    step = bundle.step(shown.step)
    lane = bundle.department(shown.department) if shown.department else None
    materials = [
        {"id": m.id, "name": m.name, "necessity": m.necessity, "source": m.source}
        for m in (step.materials if step is not None else ())
    ]
    doc = {
        **shown.as_dict(),
        "bundle": {"key": case.key, "version": case.version, "name": bundle.name},
        "department_name": lane.name if lane is not None else None,
        "form": step.form if step is not None else None,
        "materials": materials,
        "pause": shown.pause,
    }

    def text() -> str:
        running = shown.state in ("ready", "paused")
        lines = [
            f"任务 {shown.id}  {shown.name}（{shown.step}）  {_state(shown.state)}",
            f"案件 {shown.case}  {bundle.name}（{case.key} v{case.version}）",
            f"部门 {lane.name}（{lane.code}）" if lane is not None else f"部门 {shown.department or '-'}",
            f"受理 {when(shown.ready_at)}"
            + (f"  办结 {when(shown.ended_at)}" if shown.ended_at else "")
            + (f"  办理人 {shown.actor}" if shown.actor else ""),
            *(deadline_lines(shown.deadlines, running=running) or ["期限: 无办理时限"]),
            f"表单 {doc['form'] or '（无表单）'}",
        ]
        if materials:
            lines.append(
                "材料: "
                + "；".join(
                    f"{m['name']}（{m['id']}，{_NECESSITY.get(m['necessity'], m['necessity'])}）"
                    for m in materials
                )
            )
        else:
            lines.append("材料: （无）")
        pause = shown.pause
        if pause:
            names = {m["id"]: m["name"] for m in materials}
            what = _REASONS.get(pause["reason"], pause["reason"]) + (
                f"：{pause['kind']}" if pause["kind"] else ""
            )
            parts = [f"暂停: {what}，自 {when(pause['started_at'])}"]
            if pause["limit_at"]:
                parts.append(
                    f"时限至 {when(pause['limit_at'])}" + ("（已超期，恢复计时）" if pause["overrun"] else "")
                )
            if pause["note"]:
                parts.append(f"备注 {pause['note']}")
            if pause["notice"]:
                parts.append(f"补正告知 {pause['notice']}")
            if pause["materials"]:
                parts.append("补正材料 " + "、".join(names.get(m, m) for m in pause["materials"]))
            lines.append("；".join(parts))
        return "\n".join(lines)

    obj.emit(doc, text)


@task.command("complete")
@click.argument("task_id")
@click.option("--data", type=DOCUMENT, default=None, help="Form data: JSON object or @file.json.")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who completes the step.")
@format_option()
@pass_cli
def task_complete(obj: CliContext, task_id: str, data: str | None, actor: str | None) -> None:
    """Complete a ready step with its form data; prints the steps it made ready."""
    done = obj.engine().complete_task(task_id, data=parse_json_arg(data, "--data"), actor=actor)
    obj.emit(
        done.as_dict(),
        "\n".join(
            [f"completed {done.step} of case {done.case}"]
            + [f"ready: {t.step} ({t.department or '-'}) task {t.id}" for t in done.ready]
        ),
    )


@task.command("claim")
@click.argument("task_id")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The handler who claims it.")
@format_option()
@pass_cli
def task_claim(obj: CliContext, task_id: str, actor: str | None) -> None:
    """Take a step of your department into your own queue (认领)."""
    done = obj.engine().claim_task(task_id, actor=actor)
    obj.emit(done.as_dict(), f"{done.assignee} 认领了案件 {done.case} 的步骤 {done.step}")


@task.command("release")
@click.argument("task_id")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The claimant.")
@format_option()
@pass_cli
def task_release(obj: CliContext, task_id: str, actor: str | None) -> None:
    """Put a claimed step back into its department's queue."""
    done = obj.engine().release_task(task_id, actor=actor)
    obj.emit(done.as_dict(), f"案件 {done.case} 的步骤 {done.step} 已退回部门 {done.department} 的队列")


@task.command("assign")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="The handler (user id) who gets the step.")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The department head.")
@format_option()
@pass_cli
def task_assign(obj: CliContext, task_id: str, to: str, actor: str | None) -> None:
    """Give a step to a handler of its department (指派)."""
    done = obj.engine().assign_task(task_id, to=to, actor=actor)
    obj.emit(done.as_dict(), f"案件 {done.case} 的步骤 {done.step} 已指派给 {done.assignee}")


@task.command("transfer")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="The receiving department (code).")
@click.option("--reason", required=True, help="Why (转办理由).")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The department head.")
@format_option()
@pass_cli
def task_transfer(obj: CliContext, task_id: str, to: str, reason: str, actor: str | None) -> None:
    """转办: move a step to another department's queue; its deadlines stay unchanged."""
    done = obj.engine().transfer_task(task_id, to=to, reason=reason, actor=actor)
    obj.emit(done.as_dict(), f"案件 {done.case} 的步骤 {done.step} 已转办至部门 {done.department}")


@task.command("pause")
@click.argument("task_id")
@click.option(
    "--reason",
    type=click.Choice(["supplement", "special_procedure", "suspended"]),
    required=True,
    help="补正 supplement, 特别程序 special_procedure, 挂起 suspended.",
)
@click.option("--kind", default=None, help="特别程序: one of the step's declared hf:specialProcedure kinds.")
@click.option("--note", default=None, help="Why (required for 挂起 suspended).")
@click.option("--notice", default=None, help="补正 一次性告知: what must be corrected.")
@click.option(
    "--material",
    "materials",
    multiple=True,
    help="补正 一次性告知: a material of the step to correct (repeat the option for each).",
)
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR")
@format_option()
@pass_cli
def task_pause(
    obj: CliContext,
    task_id: str,
    reason: str,
    kind: str | None,
    note: str | None,
    notice: str | None,
    materials: tuple[str, ...],
    actor: str | None,
) -> None:
    """Stop a step's clock (补正 with its 一次性告知, 特别程序 with its declared kind, 挂起 with a note)."""
    done = obj.engine().pause(
        task_id, reason=reason, kind=kind, note=note, notice=notice, materials=materials, actor=actor
    )
    what = _REASONS[reason] + (f"：{kind}" if kind else "")
    limit = (done.pause or {}).get("limit_at")
    obj.emit(
        done.as_dict(),
        f"已暂停 {done.name}（{done.step}），案件 {done.case}（{what}）"
        + (f"；时限至 {when(limit)}" if limit else ""),
    )


@task.command("resume")
@click.argument("task_id")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR")
@format_option()
@pass_cli
def task_resume(obj: CliContext, task_id: str, actor: str | None) -> None:
    """Restart a paused step's clock; its deadlines move by the working days paused."""
    done = obj.engine().resume(task_id, actor=actor)
    due = (done.deadlines or {}).get("promised_due")
    obj.emit(
        done.as_dict(),
        f"resumed {done.step} of case {done.case}" + (f"; promised deadline {due}" if due else ""),
    )


@task.command("extend")
@click.argument("task_id")
@click.option("--days", type=DAYS, required=True, help="Working days to add (延长审批, at most 365).")
@click.option("--approver", required=True, help="Who approved the extension.")
@click.option("--reason", required=True, help="Why (told to the applicant).")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR")
@format_option()
@pass_cli
def task_extend(
    obj: CliContext, task_id: str, days: int, approver: str, reason: str, actor: str | None
) -> None:
    """Extend a step's promised and legal deadlines by N working days."""
    done = obj.engine().extend(task_id, days=days, approver=approver, reason=reason, actor=actor)
    due = (done.deadlines or {}).get("promised_due")
    obj.emit(
        done.as_dict(),
        f"extended {done.step} of case {done.case} by {days} working day(s); promised deadline {due}",
    )


@task.command("form")
@click.argument("task_id")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the HTML fragment to FILE instead of stdout.",
)
@format_option()
@pass_cli
def task_form(obj: CliContext, task_id: str, output: str | None) -> None:
    """The step's form as an accessible HTML fragment (with the applicant's material checklist).

    With --format json: {"task": ID, "html": "…"}, or {"task": ID, "written": FILE} with --output.
    """
    html = obj.engine().render_form(task_id)
    if output is None:
        obj.emit({"task": task_id, "html": html}, html)
        return
    write_report(html if html.endswith("\n") else html + "\n", output, what="表单")
    obj.emit({"task": task_id, "written": output}, None)
    if not obj.json:
        click.echo(f"wrote {output}", err=True)
