"""The seeded scenario of the supervision report tests (issue 8), shared with the Chromium test.

Two bundles (tests/fixtures/report/processes):
- `report_opening` (lead amr; case: promised 5, legal 12 working days): accept (amr, 1/2) → parallel
  fire_check (fire, 3/6) and sign (urban, 2/4) → end;
- `report_permit` (lead fire; case 2/5): inspect (fire, 2/5).

Eight cases on a simulated clock in March–April 2025 (Asia/Shanghai). Working days: every Mon–Fri,
except Fri 2025-04-04 (清明). Every case starts at 09:00 of its day; "accept" is done at 10:00, which
is when fire_check and sign become ready.

| label     | bundle  | what happens                                                                  |
|-----------|---------|-------------------------------------------------------------------------------|
| early     | opening | Mon 03-03; all done by Tue 03-04 11:00, well before every deadline            |
| permit    | permit  | Wed 03-05; inspect suspended (挂起) Thu 03-06 09:00 → Mon 03-10 09:00, done Wed 03-12 10:00 |
| on_time   | opening | Mon 03-10; sign done on its last day 03-12 17:00, fire_check on its last day 03-13 18:00 |
| late      | opening | Mon 03-17; fire_check done Mon 03-24 11:00 (promised passed, legal not)       |
| very_late | opening | Mon 03-24; fire_check done Mon 03-31 10:00 (promised passed); sign done Wed 04-02 10:00 (legal passed) |
| paused    | opening | Mon 03-31; fire_check 补正 Tue 04-01 10:00 → Mon 04-07 09:00, extended 2 days Tue 04-08, done Fri 04-11 15:00 |
| overdue   | opening | Wed 04-09; fire_check still open at the report (its promised deadline has passed) |
| waiting   | opening | Mon 04-14; fire_check in 特别程序 since Tue 04-15 09:00, sign open, neither due yet |

The report stands at Wed 2025-04-16 12:00, after a sweep. Card records then moved: late/fire_check/yellow
verifying → closed 不属实; very_late/sign/yellow verifying → rectifying → closed 属实; very_late/sign/red
verifying → rectifying; permit/inspect/yellow verifying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from helpers import at, migrated
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.identity.directory import SUPERVISION_DEFAULTS

BUNDLES = Path(__file__).parent / "fixtures" / "report" / "processes"
NOW = "2025-04-16T12:00"


@dataclass
class Seeded:
    engine: Engine
    clock: SimulatedClock
    url: str
    cases: dict[str, str]  # label → case id
    cards: dict[str, str]  # "label/step|case/colour" → card id


def seed(url: str) -> Seeded:
    """Build the scenario on a new simulation database at `url`; the clock ends at NOW."""
    migrated(url, simulation=True)
    clock = SimulatedClock(at("2025-03-01T09:00"))
    engine = Engine(url, clock=clock)
    # the scenario pins the efficiency figures of issue 8 with one sweep at NOW, long after its yellow
    # records' verify deadlines: without a directory the defaults would escalate each (DESIGN §9,
    # tests/test_supervision_records.py); here they only signal
    engine.context.phases = replace(
        engine.context.phases, settings=lambda _tx: {**SUPERVISION_DEFAULTS, "escalate_yellow": False}
    )
    engine.deploy(str(BUNDLES))
    cases: dict[str, str] = {}

    def task(label: str, step: str) -> str:
        found = [
            t
            for state in ("ready", "paused")
            for t in engine.tasks(case=cases[label], state=state)
            if t.step == step
        ]
        assert len(found) == 1, (label, step, found)
        return found[0].id

    def start(label: str, key: str = "report_opening") -> None:
        cases[label] = engine.start_case(key, actor="window").id

    def done(label: str, step: str) -> None:
        engine.complete_task(task(label, step), actor=f"clerk-{step}")

    actions: list[tuple[str, Callable[[], None]]] = [
        ("2025-03-03T09:00", lambda: start("early")),
        ("2025-03-03T15:00", lambda: done("early", "accept")),
        ("2025-03-04T10:00", lambda: done("early", "fire_check")),
        ("2025-03-04T11:00", lambda: done("early", "sign")),
        ("2025-03-05T09:00", lambda: start("permit", "report_permit")),
        (
            "2025-03-06T09:00",
            lambda: engine.pause(task("permit", "inspect"), reason="suspended", note="待司法裁决"),
        ),
        ("2025-03-10T09:00", lambda: engine.resume(task("permit", "inspect"))),
        ("2025-03-10T09:00", lambda: start("on_time")),
        ("2025-03-10T10:00", lambda: done("on_time", "accept")),
        ("2025-03-12T10:00", lambda: done("permit", "inspect")),
        ("2025-03-12T17:00", lambda: done("on_time", "sign")),
        ("2025-03-13T18:00", lambda: done("on_time", "fire_check")),
        ("2025-03-17T09:00", lambda: start("late")),
        ("2025-03-17T10:00", lambda: done("late", "accept")),
        ("2025-03-18T15:00", lambda: done("late", "sign")),
        ("2025-03-24T09:00", lambda: start("very_late")),
        ("2025-03-24T10:00", lambda: done("very_late", "accept")),
        ("2025-03-24T11:00", lambda: done("late", "fire_check")),
        ("2025-03-31T09:00", lambda: start("paused")),
        ("2025-03-31T10:00", lambda: done("paused", "accept")),
        ("2025-03-31T10:00", lambda: done("very_late", "fire_check")),
        ("2025-04-01T10:00", lambda: engine.pause(task("paused", "fire_check"), reason="supplement")),
        ("2025-04-01T16:00", lambda: done("paused", "sign")),
        ("2025-04-02T10:00", lambda: done("very_late", "sign")),
        ("2025-04-07T09:00", lambda: engine.resume(task("paused", "fire_check"))),
        (
            "2025-04-08T10:00",
            lambda: engine.extend(
                task("paused", "fire_check"), days=2, approver="局长", reason="现场复查", actor="clerk"
            ),
        ),
        ("2025-04-09T09:00", lambda: start("overdue")),
        ("2025-04-09T10:00", lambda: done("overdue", "accept")),
        ("2025-04-10T15:00", lambda: done("overdue", "sign")),
        ("2025-04-11T15:00", lambda: done("paused", "fire_check")),
        ("2025-04-14T09:00", lambda: start("waiting")),
        ("2025-04-14T10:00", lambda: done("waiting", "accept")),
        (
            "2025-04-15T09:00",
            lambda: engine.pause(
                task("waiting", "fire_check"), reason="special_procedure", kind="expert_review"
            ),
        ),
    ]
    for instant, action in actions:
        clock.set(at(instant))
        action()
    clock.set(at(NOW))
    engine.sweep()

    label_of = {case_id: label for label, case_id in cases.items()}
    cards = {f"{label_of[c.case]}/{c.step or 'case'}/{c.color}": c.id for c in engine.cards()}
    moves = [
        ("late/fire_check/yellow", "verifying", None),
        ("late/fire_check/yellow", "closed", "不属实"),
        ("very_late/sign/yellow", "verifying", None),
        ("very_late/sign/yellow", "rectifying", None),
        ("very_late/sign/yellow", "closed", "属实"),
        ("very_late/sign/red", "verifying", None),
        ("very_late/sign/red", "rectifying", None),
        ("permit/inspect/yellow", "verifying", None),
    ]
    for label, to, conclusion in moves:
        engine.advance_card(cards[label], to=to, note="核查", conclusion=conclusion, actor="监察员")
    return Seeded(engine=engine, clock=clock, url=url, cases=cases, cards=cards)
