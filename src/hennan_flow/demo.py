"""`hennan-flow demo`: whole bundles end to end on a simulation database at a fixed instant.

It deploys the packaged library, prints the audit's reduction figures, then runs the scripted
cases of `data/demo.json` (one with parallel departments, one with a special-procedure pause, one
with a gateway branch, then one each of 依申请公开, 12345 and 跨省通办, whose messages from outside
arrive through the portal) on the simulated clock, printing every step with its department, actor and
time. The first case also shows the running case honouring the audit (docs/services.md): its 告知承诺
signed at acceptance and verified afterwards, a material accepted missing (容缺) and supplied in
time, e-licence materials recorded unverified (the demo has no provider), and a review. The last line
says how many cases completed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from .clock.instants import SHANGHAI, parse_instant
from .engine.facade import Engine, SimulatedClock
from .errors import NotFoundError, PermissionDenied, SimulationError
from .resources import packaged_forms, packaged_processes

__all__ = ["DemoResult", "run_demo"]

# the named users of data/directory.toml the demo acts as
_ADMIN, _CLERK, _PORTAL, _SUPERVISOR = "admin-he", "window-wang", "portal-hn", "jc-zhou"


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
    say(f"hennan_flow demo: simulation database, clock at {_local(clock())} (Asia/Shanghai)")
    directory = engine.directory()
    say(
        f"directory {directory.version}: {len(directory.departments)} departments, {len(directory.users)} users "
        "(every step below is done by a named user in a role the engine checks)"
    )
    deployed = engine.deploy(str(packaged_processes()), forms=str(packaged_forms()), actor=_ADMIN)
    say("deployed: " + ", ".join(f"{d.key} v{d.version}" for d in deployed))
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
    say(f"{completed} of {len(case_ids)} case(s) completed")
    return DemoResult(tuple(case_ids), completed)


def _print_audit(say: Callable[[str], None]) -> None:
    try:
        from .audit import audit_paths
    except ImportError:  # pragma: no cover - the audit ships with the package
        return
    report = audit_paths([str(packaged_processes())])
    say(
        "五个一律 audit of the library (materials before → after, by reason; online forms are collected by the "
        "steps' own forms):"
    )
    for b in report.bundles:
        f = b.figures
        say(
            f"  {b.name:<16} {f.before:>2} → {f.after:>2}   cancelled {f.cancelled}, e-licence or online check "
            f"{f.exempt_e_license}, commitment {f.exempt_commitment} (letters to sign), generated {f.generated}, "
            f"online forms {f.online_form}; scenarios: {'、'.join(sc.name for sc in b.scenarios)}"
        )
    errors = sum(1 for x in report.findings if x.severity == "error")
    say(f"  audit errors: {errors}")


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
    say(f"case {number}/{total}: {bundle.name} ({key} v{case.version}) — {scenario['title']}")
    say(
        f"  {_local(case.started_at)}  受理窗口                         case {case.id} started by {_CLERK} (clerk)"
    )
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
                say(
                    f"  {_local(clock())}  {dept:<28} {task.name}: paused ({pause['reason']}, "
                    f"{pause['days']} natural days, not counted) — by {pauser}"
                )
                clock.advance(days=pause["days"])
                engine.resume(task.id, actor=actor)
                say(f"  {_local(clock())}  {dept:<28} {task.name}: resumed")
            for material in supply.get(task.step, []):
                clock.advance(minutes=30)
                engine.supply_material(task.id, material, actor=_CLERK)
                say(
                    f"  {_local(clock())}  受理窗口                         容缺 material {material} supplied"
                )
            clock.advance(hours=1)
            done = engine.complete_task(task.id, data=steps[task.step], actor=actor)
            due = (done.deadlines or {}).get("promised_due")
            late = ""
            if due is not None and clock() > datetime.fromisoformat(due):
                late = "  (late)"
            say(f"  {_local(done.ended_at)}  {dept:<28} {task.name} — by {actor}{late}")
    shown = engine.case(case.id)
    deadline = (shown.deadlines or {}).get("promised_due")
    verdict = ""
    if deadline is not None and shown.ended_at is not None:
        verdict = " on time" if shown.ended_at <= datetime.fromisoformat(deadline) else " LATE"
    say(f"  {_local(shown.ended_at)}  case {shown.state}{verdict} (promised by {deadline or '-'})")
    _after(engine, clock, scenario, case.id, say)
    return case.id


def _deliver(
    engine: Engine, clock: SimulatedClock, case_id: str, message: dict[str, Any], say: Callable[[str], None]
) -> None:
    """A message from outside (the remote region's result, a third party's opinion) via the portal."""
    clock.advance(hours=message.get("after_hours", 2))
    engine.deliver_message(case_id, message["name"], message["data"], actor=_PORTAL)
    say(f"  {_local(clock())}  {'网上渠道':<28} message {message['name']} delivered — by {_PORTAL} (portal)")


def _print_materials(engine: Engine, case_id: str, say: Callable[[str], None]) -> None:
    """What the running case made of the audit's verdicts when its first steps were accepted."""
    found = engine.materials(case=case_id)
    for c in found.commitments:
        say(f"  {'':16}  告知承诺 {c.material} ({c.name}): {c.state} by the applicant, text {c.text_version}")
    for t in found.tolerated:
        say(f"  {'':16}  容缺受理 {t.material} ({t.name}): missing, to be supplied by {_local(t.due)}")
    unverified = [lc.material for lc in found.licences if lc.state == "unverified"]
    if unverified:
        say(f"  {'':16}  电子证照 {', '.join(unverified)}: recorded unverified (no provider configured)")


def _after(
    engine: Engine, clock: SimulatedClock, scenario: dict[str, Any], case_id: str, say: Callable[[str], None]
) -> None:
    """事后核查 of the case's commitments and its review, as scripted."""
    checks: dict[str, dict[str, Any]] = scenario.get("verify", {})
    for c in engine.commitments(case=case_id):
        check = checks.get(c.material)
        say(f"  {'':16}  告知承诺 {c.material}: post-verification due {_local(c.verify_due)}")
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
        say(f"  {_local(done.verified_at)}  事后核查 ({done.method}) {done.material}: {done.state}")
    review = scenario.get("review")
    if review is not None:
        clock.advance(minutes=10)
        added = engine.add_review(
            case_id, level=int(review["level"]), channel=review["channel"], actor=_PORTAL
        )
        say(
            f"  {_local(added.at)}  好差评 {added.level} ({added.channel}){' — rectification opened' if added.bad else ''}"
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
    say(f"supervision: red card {red.id} of department {department} (step {red.step or '-'})")
    try:
        engine.advance_card(
            red.id, to="closed", note="系统误报", conclusion="系统误报", actor=f"{department}-h1"
        )
    except PermissionDenied as refused:
        say(f"  refused: {refused.message}")
    engine.advance_card(red.id, to="verifying", note="调取办件记录核查", actor=_SUPERVISOR)
    say(f"  {_local(clock())}  电子监察 {_SUPERVISOR} (supervisor) opened the verification (核查)")
