"""`sla` and `card`: the sweeper and the 红黄牌 records from the command line (DESIGN §4, §6).

There is deliberately no command that deletes a card or its record: records are closed, never
deleted (每牌必查、超时必究、出错必改).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import click

from ..errors import ConfigError, ConflictError
from ..supervision.accountability import MEASURES
from ..supervision.cards import CARD_STATES, CONCLUSIONS, Card
from ..supervision.records import PHASE_NAMES
from ..supervision.sweeper import BatchReport, SweepResult
from ._context import CliContext, format_option, pass_cli
from ._params import FiniteFloat
from ._text import SCOPE_NAMES, SIGNAL_NAMES, STATE_NAMES, TRIGGER_NAMES, duration, table, when

__all__ = ["card", "sla"]


# -- sla ------------------------------------------------------------------------------------


@click.group()
def sla() -> None:
    """The statutory clock's sweeper: issue due signals and cards, fire BPMN timers."""


@sla.command("sweep")
@click.option("--loop", is_flag=True, help="Keep sweeping every --interval seconds until SIGTERM/SIGINT.")
@click.option(
    "--interval",
    type=FiniteFloat(0.05, 86_400),
    default=None,
    help="Seconds between sweeps with --loop (default 10).",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option(
    "--budget",
    type=FiniteFloat(0.001, 3600),
    default=30.0,
    show_default=True,
    help="Seconds one sweep may run before it yields.",
)
@click.option(
    "--lease",
    type=FiniteFloat(0.001, 86_400),
    default=60.0,
    show_default=True,
    help="Seconds a claim is held before other sweepers may reap it.",
)
@format_option()
@pass_cli
def sla_sweep(
    obj: CliContext, loop: bool, interval: float | None, batch_size: int, budget: float, lease: float
) -> None:
    """Issue every due signal and card once, at its due instant, and fire due BPMN timers.

    Exits 0 whenever it ran. With --loop it logs one line per batch on stderr and stops cleanly
    on SIGTERM or SIGINT (the batch in hand is finished first).
    """
    if interval is not None and not loop:
        raise click.UsageError("--interval 须与 --loop 一起使用")
    if loop:
        if obj.now is not None:
            raise ConfigError(
                "--now 固定了时钟，而 sla sweep --loop 按实际时间运行",
                hint="去掉 --now，或只扫描一次：hennan-flow --now … sla sweep",
            )
        _loop(obj, 10.0 if interval is None else interval, batch_size, budget, lease)
        return
    engine = obj.engine()
    result = engine.sweep(batch_size=batch_size, budget=budget, lease=lease)
    if result.calendar_warning and obj.json:
        click.echo(f"警告（工作日历）：{result.calendar_warning}", err=True)
    obj.emit(result.as_dict(), lambda: _sweep_text(result))


def _sweep_text(result: SweepResult) -> str:
    rows = [
        (
            when(i.at),
            SIGNAL_NAMES.get(i.name, i.name),
            SCOPE_NAMES.get(i.scope, i.scope),
            i.case,
            i.step or "-",
            i.task or "-",
            TRIGGER_NAMES.get(i.trigger, i.trigger),
        )
        for i in result.issued
    ]
    lines = [
        table(("时间", "信号", "范围", "案件", "步骤", "任务", "依据"), rows, empty="没有到期的预警或亮牌。")
    ]
    summary = f"发出 {len(result.issued)} 项，滞后 {duration(result.lag_seconds)}"
    if result.timers_fired:
        summary += f"，触发定时 {len(result.timers_fired)} 个"
    if result.timer_errors:
        summary += f"，{len(result.timer_errors)} 个案件标记为出错"
    if not result.complete:
        summary += "（本轮时间用完，下一轮继续）"
    lines.append(summary)
    if result.calendar_warning:
        lines.append(f"警告（工作日历）：{result.calendar_warning}")
    return "\n".join(lines)


def _loop(obj: CliContext, interval: float, batch_size: int, budget: float, lease: float) -> None:
    engine = obj.engine()
    stopping = threading.Event()
    stopped_by: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopped_by.append(signal.Signals(signum).name)
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def on_batch(report: BatchReport) -> None:
        click.echo(report.line(), err=True)

    sweeps = issued = 0
    lag = 0.0
    click.echo(f"督办扫描已启动：每 {interval:g} 秒一轮，每批 {batch_size} 项，租约 {lease:g} 秒", err=True)
    try:
        while not stopping.is_set():
            try:
                result = engine.sweep(
                    batch_size=batch_size,
                    budget=budget,
                    lease=lease,
                    stop=stopping.is_set,
                    on_batch=on_batch,
                )
            except ConflictError as exc:  # busy: the next round tries again
                click.echo(f"警告：本轮扫描跳过：{exc}", err=True)
            else:
                sweeps += 1
                issued += len(result.issued)
                lag = result.lag_seconds
                if result.calendar_warning and result.calendar_warning_new:  # throttled by the library
                    click.echo(f"警告（工作日历）：{result.calendar_warning}", err=True)
                if not result.complete and not stopping.is_set():
                    continue  # work left: go on at once
            stopping.wait(interval)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    reason = stopped_by[0] if stopped_by else "stop"
    click.echo(f"督办扫描已停止（{reason}）：共扫描 {sweeps} 轮，发出 {issued} 项", err=True)
    doc: dict[str, Any] = {"sweeps": sweeps, "issued_count": issued, "lag_seconds": lag, "stopped_by": reason}
    obj.emit(doc, f"已停止：共扫描 {sweeps} 轮，发出 {issued} 项")


# -- card -----------------------------------------------------------------------------------


@click.group()
def card() -> None:
    """红黄牌: list cards, show one with its record, move its record (never delete it), accountability."""


_COLORS = {"yellow": "黄牌", "red": "红牌"}
_ACTOR = click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Who acts (recorded in the audit log)."
)


@card.command("list")
@click.option(
    "--state",
    type=click.Choice(["open", *CARD_STATES[1:]]),
    default=None,
    help="open means every card not closed yet.",
)
@click.option("--color", type=click.Choice(["yellow", "red"]), default=None, help="Only yellow or red cards.")
@click.option("--department", default=None, help="Only cards of this department (lane code).")
@click.option(
    "--overdue",
    type=click.Choice(["any", *PHASE_NAMES]),
    default=None,
    help="Only records whose open phase (verify 核查, rectify 整改, review 上级复核, revisit 回访) is past its deadline.",
)
@click.option("--case", "case_id", default=None, help="Only cards of this case.")
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Read as this user: only what they may read."
)
@format_option()
@pass_cli
def card_list(
    obj: CliContext,
    state: str | None,
    color: str | None,
    department: str | None,
    overdue: str | None,
    case_id: str | None,
    actor: str | None,
) -> None:
    """List yellow and red cards, oldest first."""
    found = obj.engine().cards(
        state=state, case=case_id, color=color, department=department, overdue=overdue, actor=actor
    )

    def text() -> str:
        rows = [
            (
                c.id,
                _COLORS.get(c.color, c.color),
                STATE_NAMES.get(c.state, c.state),
                c.department or "-",
                c.case,
                c.step or "-",
                when(c.issued_at),
                TRIGGER_NAMES.get(c.signal, c.signal),
            )
            for c in found
        ]
        return table(
            ("牌", "颜色", "状态", "部门", "案件", "步骤", "亮牌时间", "依据"),
            rows,
            empty="没有符合条件的红黄牌。",
        )

    obj.emit([c.as_dict() for c in found], text)


@card.command("show")
@click.argument("card_id")
@click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="Read as this user: only what they may read."
)
@format_option()
@pass_cli
def card_show(obj: CliContext, card_id: str, actor: str | None) -> None:
    """Show a card with its record, phase deadlines and accountability entries."""
    shown = obj.engine().card(card_id, actor=actor)
    obj.emit(shown.record_dict(), lambda: _card_text(shown))


@card.command("advance")
@click.argument("card_id")
@click.option(
    "--to",
    "to",
    type=click.Choice(list(CARD_STATES[1:])),
    required=True,
    help="verifying (核查) → rectifying (整改) → [red: reviewing (上级复核) → revisiting (回访)] → closed.",
)
@click.option("--note", required=True, help="What was checked or done (kept in the record).")
@click.option(
    "--conclusion",
    type=click.Choice(list(CONCLUSIONS)),
    default=None,
    help="Needed to close: 属实 (after rectifying, or revisiting for red), 不属实 or 系统误报 (from verifying).",
)
@_ACTOR
@format_option()
@pass_cli
def card_advance(
    obj: CliContext, card_id: str, to: str, note: str, conclusion: str | None, actor: str | None
) -> None:
    """Move a card's supervision record one step."""
    moved = obj.engine().advance_card(card_id, to=to, note=note, conclusion=conclusion, actor=actor)
    obj.emit(moved.record_dict(), lambda: _card_text(moved))


@card.command("account")
@click.argument("card_id")
@click.option("--person", required=True, help="Who is held to account (as the decision names them).")
@click.option("--measure", type=click.Choice(list(MEASURES)), required=True, help="The measure taken.")
@click.option("--note", required=True, help="The facts and the decision.")
@_ACTOR
@format_option()
@pass_cli
def card_account(
    obj: CliContext, card_id: str, person: str, measure: str, note: str, actor: str | None
) -> None:
    """Record an accountability entry (责任追究) on a card found true; 移送纪检监察机关 opens a referral."""
    shown = obj.engine().account_card(card_id, person=person, measure=measure, note=note, actor=actor)
    obj.emit(shown.record_dict(), lambda: _card_text(shown))


@card.command("referrals")
@click.option("--state", type=click.Choice(["open", "closed"]), default=None)
@_ACTOR
@format_option()
@pass_cli
def card_referrals(obj: CliContext, state: str | None, actor: str | None) -> None:
    """List the referrals to 纪检监察机关 (discipline users only)."""
    found = obj.engine().referrals(state=state, actor=actor)

    def text() -> str:
        rows = [
            (
                r.id,
                "待处理" if r.state == "open" else "已办结",
                r.card,
                r.department or "-",
                r.person,
                when(r.opened_at),
                r.outcome or "-",
            )
            for r in found
        ]
        return table(
            ("移送", "状态", "牌", "部门", "被问责人", "移送时间", "处理结果"), rows, empty="没有移送线索。"
        )

    obj.emit([r.as_dict() for r in found], text)


@card.group("referral")
def card_referral() -> None:
    """One referral to 纪检监察机关."""


@card_referral.command("close")
@click.argument("referral_id")
@click.option("--outcome", required=True, help="The outcome 纪检监察机关 decided.")
@_ACTOR
@format_option()
@pass_cli
def card_referral_close(obj: CliContext, referral_id: str, outcome: str, actor: str | None) -> None:
    """Record a referral's outcome: it closes."""
    closed = obj.engine().close_referral(referral_id, outcome=outcome, actor=actor)
    obj.emit(closed.as_dict(), f"移送 {closed.id} 已办结：{closed.outcome}")


def _card_text(c: Card) -> str:
    doc = c.record_dict()
    head = (
        f"{_COLORS.get(c.color, c.color)} {c.id}：{STATE_NAMES.get(c.state, c.state)}"
        + (f"（结论：{c.conclusion}）" if c.conclusion else "")
        + f"\n案件 {c.case}，{'步骤 ' + c.step if c.step else '整个案件'}"
        + f"\n亮牌时间 {when(c.issued_at)}（{TRIGGER_NAMES.get(c.signal, c.signal)}）；"
        + ("上级复核" if c.handler == "superior_review" else "部门自查")
        + (f"，责任部门 {c.department}" if c.department else "")
    )
    lines = [head, "督办记录："]
    for t in c.record:
        lines.append(
            f"  {when(t.at)}  {STATE_NAMES.get(t.from_state or '', '-')} → {STATE_NAMES.get(t.to_state, t.to_state)}"
            f"  {t.actor or '-'}"
            + (f"  {t.conclusion}" if t.conclusion else "")
            + (f"  {t.note}" if t.note else "")
        )
    if doc["phases"]:
        lines.append("阶段期限：")
        for p in doc["phases"]:
            lines.append(
                f"  {p['name']}（{p['within_workdays']} 个工作日）  开始 {when(p['started_at'])}"
                f"  期限 {when(p['due_at']) if p['due_at'] else '待日历数据'}"
                f"  {'结束 ' + when(p['ended_at']) if p['ended_at'] else '进行中'}"
                + ("  已超期" if p["overdue"] else "")
            )
    if doc["accountability"]:
        lines.append("责任追究：")
        for a in doc["accountability"]:
            lines.append(
                f"  {when(a['at'])}  {a['person']}  {a['measure']}  {a['note']}  登记人 {a['actor'] or '-'}"
            )
    return "\n".join(lines)
