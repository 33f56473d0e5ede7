"""`hennan-flow demo`: whole bundles end to end on a simulation database at a fixed instant.

It deploys the packaged library, prints the audit's reduction figures, then runs the scripted
cases of `data/demo.json` (one with parallel departments, one with a special-procedure pause, one
with a gateway branch, then one each of 依申请公开, 12345 and 跨省通办, whose messages from outside
arrive through the portal) on the simulated clock, printing every step with its department, actor and
time. The narration is in Chinese for county staff (ids, bundle keys, user ids and ISO instants
stay as they are; columns are padded by display width). The first case also shows the running case honouring the audit (docs/services.md): its 告知承诺
signed at acceptance and verified afterwards, a material accepted missing (容缺) and supplied in
time, e-licence materials recorded unverified (the demo has no provider), and a review. The last line
says how many cases completed (已办结).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from wcwidth import wcswidth

from .clock.instants import SHANGHAI, parse_instant
from .engine.facade import Engine, SimulatedClock
from .errors import NotFoundError, PermissionDenied, SimulationError
from .report.supervision_common import CASE_STATES, COLORS, REASONS
from .resources import packaged_forms, packaged_processes
from .services.commitments import COMMITMENT_STATE_NAMES, METHODS
from .services.reviews import CHANNELS, LEVELS

__all__ = ["DemoResult", "run_demo"]

# the named users of data/directory.toml the demo acts as
_ADMIN, _CLERK, _PORTAL, _SUPERVISOR = "admin-he", "window-wang", "portal-hn", "jc-zhou"
# terminal columns of the department column and of the audit's bundle-name column (a CJK character
# takes two); a longer name keeps one space after it
_DEPT_WIDTH, _NAME_WIDTH = 46, 22
_STATES = {**CASE_STATES, **COMMITMENT_STATE_NAMES}


@dataclass(frozen=True)
class DemoResult:
    cases: tuple[str, ...]
    completed: int


def _scenarios() -> dict[str, Any]:
    text = (resources.files("hennan_flow") / "data" / "demo.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _has_directory(engine: Engine) -> bool:
    try:
        engine.directory()
    except NotFoundError:
        return False
    return True


def _pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (one space at least), by display width."""
    shown = wcswidth(text)
    return text + " " * max(1, width - (shown if shown >= 0 else len(text)))


def _dept(name: str) -> str:
    return _pad(name, _DEPT_WIDTH)


def _local(instant: datetime | None) -> str:
    return "-" if instant is None else instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def run_demo(url: str, *, say: Callable[[str], None] = print, start: str | None = None) -> DemoResult:
    """Run the scripted demo cases on the simulation database at `url` (created if empty)."""
    script = _scenarios()
    first = parse_instant(start or script["start"], what="demo start")
    setup = Engine(url)
    try:
        status = setup.status()
        if status["revision"] is None:
            setup.upgrade(simulation=True)
        elif not status["simulation"]:
            raise SimulationError(
                "the demo runs only on a simulation database",
                hint="point --db at a new file, e.g. --db sqlite:///demo.db",
            )
        elif not status["up_to_date"]:
            setup.upgrade()
        if not _has_directory(setup):
            setup.load_directory(str(resources.files("hennan_flow") / "data" / "directory.toml"))
    finally:
        setup.close()

    clock = SimulatedClock(first)
    engine = Engine(url, clock=clock)
    try:
        return _run(engine, clock, script, say)
    finally:
        engine.close()


def _run(
    engine: Engine, clock: SimulatedClock, script: dict[str, Any], say: Callable[[str], None]
) -> DemoResult:
    say(f"hennan_flow 演示：模拟数据库，模拟时钟 {_local(clock())}（北京时间）")
    directory = engine.directory()
    say(
        f"部门与人员目录 {directory.version}：{len(directory.departments)} 个部门，{len(directory.users)} 名人员"
        "（以下每一步都由具名人员以引擎核验的角色办理）"
    )
    deployed = engine.deploy(str(packaged_processes()), forms=str(packaged_forms()), actor=_ADMIN)
    say("已部署：" + "、".join(f"{d.key} v{d.version}" for d in deployed))
    _print_audit(say)
    case_ids = []
    completed = 0
    for number, scenario in enumerate(script["cases"], start=1):
        case_id = _run_case(engine, clock, scenario, number, len(script["cases"]), say)
        case_ids.append(case_id)
        if engine.case(case_id).state == "completed":
            completed += 1
        # the next case starts the next working morning
        clock.set(_next_morning(clock()))
    _supervise(engine, clock, say)
    say(f"共 {len(case_ids)} 件案件，已办结 {completed} 件")
    return DemoResult(tuple(case_ids), completed)


def _print_audit(say: Callable[[str], None]) -> None:
    try:
        from .audit import audit_paths
    except ImportError:  # pragma: no cover - the audit ships with the package
        return
    report = audit_paths([str(packaged_processes())])
    say("五个一律 材料审查（材料数 精简前 → 精简后，按原因；在线表单由各环节自己的表单收集）：")
    for b in report.bundles:
        f = b.figures
        say(
            f"  {_pad(b.name, _NAME_WIDTH)}{f.before:>2} → {f.after:>2}   取消 {f.cancelled}，电子证照或网上核验 "
            f"{f.exempt_e_license}，告知承诺 {f.exempt_commitment}（需签署承诺书），系统生成 {f.generated}，"
            f"在线表单 {f.online_form}；情形：{'、'.join(sc.name for sc in b.scenarios)}"
        )
    errors = sum(1 for x in report.findings if x.severity == "error")
    say(f"  审查错误：{errors}")


def _next_morning(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI) + timedelta(days=1)
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.replace(hour=9, minute=0, second=0, microsecond=0)


def _run_case(
    engine: Engine,
    clock: SimulatedClock,
    scenario: dict[str, Any],
    number: int,
    total: int,
    say: Callable[[str], None],
) -> str:
    key = scenario["key"]
    bundle = engine.bundle(key)
    lanes = {d.code: d.name for d in bundle.departments}
    applicant = scenario.get("applicant", {"name": "（演示申请人）"})
    case = engine.start_case(key, applicant=applicant, actor=_CLERK)
    say("")
    say(f"案件 {number}/{total}：{bundle.name}（{key} v{case.version}）— {scenario['title']}")
    say(f"  {_local(case.started_at)}  {_dept('受理窗口')}案件 {case.id} 已受理 — 窗口人员 {_CLERK}")
    _print_materials(engine, case.id, say)
    steps: dict[str, dict[str, Any]] = scenario["steps"]
    pauses: dict[str, dict[str, Any]] = scenario.get("pauses", {})
    supply: dict[str, list[str]] = scenario.get("supply", {})
    messages: list[dict[str, Any]] = list(scenario.get("messages", []))
    while True:
        ready = engine.tasks(case=case.id)
        if not ready:
            if messages and "before" not in messages[0]:
                _deliver(engine, clock, case.id, messages.pop(0), say)
                continue
            break
        for task in ready:
            if task.step not in steps:
                raise SimulationError(f"the demo script has no data for step {task.step!r} of {key}")
            while messages and messages[0].get("before") == task.step:
                _deliver(engine, clock, case.id, messages.pop(0), say)
            dept = lanes.get(task.department or "", task.department or "-")
            actor = f"{task.department}-h1"  # the department's handler (data/directory.toml)
            head = f"{task.department}-head"
            engine.claim_task(task.id, actor=actor)
            pause = pauses.get(task.step)
            if pause is not None:
                clock.advance(minutes=30)
                # a supplement pause is the handler's; a special procedure or suspension the head's
                pauser = actor if pause["reason"] == "supplement" else head
                engine.pause(task.id, reason=pause["reason"], kind=pause.get("kind"), actor=pauser)
                reason = REASONS.get(pause["reason"], pause["reason"])
                say(
                    f"  {_local(clock())}  {_dept(dept)}{task.name}：暂停计时（{reason}，"
                    f"{pause['days']} 个自然日，不计入时限）— 操作人 {pauser}"
                )
                clock.advance(days=pause["days"])
                engine.resume(task.id, actor=actor)
                say(f"  {_local(clock())}  {_dept(dept)}{task.name}：恢复计时")
            for material in supply.get(task.step, []):
                clock.advance(minutes=30)
                engine.supply_material(task.id, material, actor=_CLERK)
                say(f"  {_local(clock())}  {_dept('受理窗口')}容缺材料 {material} 已补交")
            clock.advance(hours=1)
            done = engine.complete_task(task.id, data=steps[task.step], actor=actor)
            due = (done.deadlines or {}).get("promised_due")
            late = ""
            if due is not None and clock() > datetime.fromisoformat(due):
                late = "（超时）"
            say(f"  {_local(done.ended_at)}  {_dept(dept)}{task.name} — 办理人 {actor}{late}")
    shown = engine.case(case.id)
    deadline = (shown.deadlines or {}).get("promised_due")
    verdict = ""
    if deadline is not None and shown.ended_at is not None:
        verdict = "，按时" if shown.ended_at <= datetime.fromisoformat(deadline) else "，超时"
    state = _STATES.get(shown.state, shown.state)
    say(f"  {_local(shown.ended_at)}  案件{state}{verdict}（承诺时限 {deadline or '-'}）")
    _after(engine, clock, scenario, case.id, say)
    return case.id


def _deliver(
    engine: Engine, clock: SimulatedClock, case_id: str, message: dict[str, Any], say: Callable[[str], None]
) -> None:
    """A message from outside (the remote region's result, a third party's opinion) via the portal."""
    clock.advance(hours=message.get("after_hours", 2))
    engine.deliver_message(case_id, message["name"], message["data"], actor=_PORTAL)
    say(f"  {_local(clock())}  {_dept('网上渠道')}收到消息 {message['name']} — 经 {_PORTAL}（网上渠道）送达")


def _print_materials(engine: Engine, case_id: str, say: Callable[[str], None]) -> None:
    """What the running case made of the audit's verdicts when its first steps were accepted."""
    found = engine.materials(case=case_id)
    for c in found.commitments:
        state = _STATES.get(c.state, c.state)
        say(f"  {'':16}  告知承诺 {c.material}（{c.name}）：申请人{state}，承诺书文本 {c.text_version}")
    for t in found.tolerated:
        say(f"  {'':16}  容缺受理 {t.material}（{t.name}）：暂缺，须于 {_local(t.due)} 前补交")
    unverified = [lc.material for lc in found.licences if lc.state == "unverified"]
    if unverified:
        say(f"  {'':16}  电子证照 {'、'.join(unverified)}：记为未核验（未配置电子证照核验服务）")


def _after(
    engine: Engine, clock: SimulatedClock, scenario: dict[str, Any], case_id: str, say: Callable[[str], None]
) -> None:
    """事后核查 of the case's commitments and its review, as scripted."""
    checks: dict[str, dict[str, Any]] = scenario.get("verify", {})
    for c in engine.commitments(case=case_id):
        check = checks.get(c.material)
        say(f"  {'':16}  告知承诺 {c.material}：事后核查期限 {_local(c.verify_due)}")
        if check is None or c.state != "signed":
            continue
        clock.advance(hours=2)
        done = engine.verify_commitment(
            c.id,
            result=bool(check["result"]),
            method=check["method"],
            note=check["note"],
            actor=f"{engine.task(c.task).department}-h1" if c.task else _CLERK,
        )
        method = METHODS.get(done.method or "", done.method or "-")
        say(
            f"  {_local(done.verified_at)}  事后核查（{method}）{done.material}：{_STATES.get(done.state, done.state)}"
        )
    review = scenario.get("review")
    if review is not None:
        clock.advance(minutes=10)
        added = engine.add_review(
            case_id, level=int(review["level"]), channel=review["channel"], actor=_PORTAL
        )
        level, channel = LEVELS.get(added.level, str(added.level)), CHANNELS.get(added.channel, added.channel)
        say(
            f"  {_local(added.at)}  好差评 {added.level} {level}（{channel}）{' — 已启动差评整改' if added.bad else ''}"
        )


def _supervise(engine: Engine, clock: SimulatedClock, say: Callable[[str], None]) -> None:
    """A red card: its department's handler may not dismiss it (refused); the supervisor verifies it."""
    clock.advance(days=60)  # a case left open meanwhile runs into its red card
    late = engine.start_case("restaurant_opening", actor=_CLERK) if not engine.cards(color="red") else None
    if late is not None:
        clock.advance(days=90)
    engine.sweep()
    red = next(iter(engine.cards(color="red", state="open")), None)
    if red is None:
        return
    department = red.department or ""
    say("")
    say(f"电子监察：{COLORS['red']} {red.id}，被亮牌部门 {department}，环节 {red.step or '-'}")
    try:
        engine.advance_card(
            red.id, to="closed", note="系统误报", conclusion="系统误报", actor=f"{department}-h1"
        )
    except PermissionDenied as refused:
        say(f"  被拒绝：{refused.message}")
    engine.advance_card(red.id, to="verifying", note="调取办件记录核查", actor=_SUPERVISOR)
    say(f"  {_local(clock())}  电子监察 监察人员 {_SUPERVISOR} 启动核查")
