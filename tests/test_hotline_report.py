"""The 12345 figures of the supervision report (issue 26): a scripted month of orders against the
fractions computed by hand (definitions: supervision/hotline.py, docs/supervision-report.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from helpers import PROCESSES, WALKS, at, simulation
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.report.supervision_html import render_html
from hennan_flow.report.supervision_text import render_text
from test_supervision_report import schema_errors

KEY = "hotline_work_order"


class Order:
    """One scripted order: each completion ten minutes after the one before (one instant each)."""

    def __init__(self, engine: Engine, clock: SimulatedClock, day: str) -> None:
        self.engine, self.clock = engine, clock
        clock.set(at(f"{day}T09:00"))
        self.case = engine.start_case(KEY, applicant={"name": "李湘南"}).id

    def do(self, step: str, after_minutes: int = 10, **data: Any) -> None:
        self.clock.advance(minutes=after_minutes)
        [task] = self.engine.tasks(case=self.case)
        assert task.step == step, (task.step, step)
        self.engine.complete_task(task.id, data={**WALKS[KEY]["step_data"][step], **data})

    def start(self, route: str = "urban") -> None:
        self.do("accept")
        self.do("dispatch", route=route)

    def revisit(self, resolved: bool, satisfaction: str) -> None:
        self.do("revisit", resolved=resolved, satisfaction=satisfaction)


@pytest.fixture
def month(tmp_path: Path) -> Iterator[Engine]:
    """Six orders of March 2026; the report stands at 2026-03-20 09:30 (order 6 not yet due)."""
    with simulation(f"sqlite:///{tmp_path / 'h.db'}", PROCESSES, at("2026-03-02T09:00")) as (engine, clock):
        o1 = Order(engine, clock, "2026-03-02")  # urban, signed in time, resolved, satisfied
        o1.start()
        o1.do("sign", 60)
        o1.do("handle"), o1.do("reply")
        o1.revisit(True, "satisfied")
        o1.do("close")
        o2 = Order(engine, clock, "2026-03-03")  # urban, signed 3 hours after dispatch (late), basically
        o2.start()
        o2.do("sign", 180)
        o2.do("handle"), o2.do("reply")
        o2.revisit(True, "basically")
        o2.do("close")
        o3 = Order(engine, clock, "2026-03-04")  # urban returns it in time; re-dispatched to power; 重办
        o3.start()
        o3.do("sign", 30, sign_decision="return", return_reason="属供电线路")
        o3.do("return_review", return_approved=True)
        o3.do("dispatch", route="power")
        o3.do("power_sign", 60)
        o3.do("power_handle")
        o3.revisit(False, "dissatisfied")
        o3.do("power_handle")
        o3.revisit(True, "satisfied")
        o3.do("close")
        o4 = Order(engine, clock, "2026-03-05")  # power signs late; not resolved, basically satisfied
        o4.start(route="power")
        o4.do("power_sign", 150)
        o4.do("power_handle")
        o4.revisit(False, "basically")
        o4.do("close")
        o5 = Order(engine, clock, "2026-03-09")  # urban in time; dissatisfied → 重办 → resolved, satisfied
        o5.start()
        o5.do("sign", 45)
        o5.do("handle"), o5.do("reply")
        o5.revisit(False, "dissatisfied")
        o5.do("handle"), o5.do("reply")
        o5.revisit(True, "satisfied")
        o5.do("close")
        o6 = Order(engine, clock, "2026-03-20")  # dispatched 09:20, not signed at 09:30: not judged
        o6.start()
        clock.set(at("2026-03-20T09:30"))
        yield engine


def test_the_three_rates_of_a_scripted_month_equal_the_hand_computed_fractions(month: Engine) -> None:
    report = month.supervision_report(start=date(2026, 3, 1), end=date(2026, 3, 31))
    h = report["hotline"]
    assert h is not None and h["orders"] == 6
    units = {u["code"]: u for u in h["units"]}
    assert set(units) == {"urban", "power"}
    urban, power, total = units["urban"], units["power"], h["totals"]
    # urban: sign-ins judged o1 (in time), o2 (late), o3 (a return, in time), o5 (in time); o6 not due
    assert (urban["orders"], urban["sign_ins"], urban["signed_on_time"]) == (5, 4, 3)
    assert urban["response_rate"] == 0.75
    # its revisits (made ready by its reply): o1 resolved/satisfied, o2 resolved/basically,
    # o5 not resolved/dissatisfied then resolved/satisfied
    assert (urban["revisits"], urban["resolved"], urban["satisfied"]) == (4, 3, 3)
    assert urban["resolution_rate"] == 0.75 and urban["satisfaction_rate"] == 0.75
    assert (urban["returns"], urban["reworks"]) == (1, 1)
    # power: o3 signed in time, o4 late; revisits o3 ×2 (dissatisfied, satisfied), o4 (basically)
    assert (power["orders"], power["sign_ins"], power["signed_on_time"]) == (2, 2, 1)
    assert power["response_rate"] == 0.5
    assert (power["revisits"], power["resolved"], power["satisfied"]) == (3, 1, 2)
    assert power["resolution_rate"] == round(1 / 3, 4) and power["satisfaction_rate"] == round(2 / 3, 4)
    assert (power["returns"], power["reworks"]) == (0, 1)
    # the county: 4 of 6 sign-ins in time, 4 of 7 revisits resolved, 5 of 7 satisfied
    assert (total["orders"], total["sign_ins"], total["signed_on_time"]) == (6, 6, 4)
    assert total["response_rate"] == round(4 / 6, 4)
    assert total["resolution_rate"] == round(4 / 7, 4) and total["satisfaction_rate"] == round(5 / 7, 4)
    assert (total["returns"], total["reworks"]) == (1, 2)


def test_the_hotline_section_in_json_text_and_html_and_by_department(month: Engine) -> None:
    report = month.supervision_report(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert schema_errors(json.loads(json.dumps(report))) == []
    text = render_text(report)
    assert "12345热线工单（hotline_work_order）：本期受理 6 件" in text
    assert "响应率 75.0%（按时签收 3/4）" in text and "重办 1" in text
    html = render_html(report)
    assert 'id="hotline"' in html and "响应率" in html and "66.7% (4/6)" in html
    only = month.supervision_report(start=date(2026, 3, 1), end=date(2026, 3, 31), department="power")
    assert only["hotline"] is not None and [u["code"] for u in only["hotline"]["units"]] == ["power"]
    assert only["hotline"]["totals"]["sign_ins"] == 2
    # another period holds no order: no section, and the report's other parts do not show one
    april = month.supervision_report(start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert april["hotline"] is None and "12345" not in render_text(april)
    assert schema_errors(json.loads(json.dumps(april))) == []
