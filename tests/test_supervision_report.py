"""The 红黄牌 supervision report (issue 8): figures per department and bundle, as a record, text, JSON, HTML.

The scenario is tests/report_scenario.py (read its docstring first): eight cases on a simulated clock,
finished early, on time, late and very late, paused and extended, still open past due and not yet due;
swept at Wed 2025-04-16 12:00, card records moved. Every expected figure below is worked out by hand.

Working days (chinese-calendar 1.11): every Mon–Fri of March and April 2025 except Fri 04-04 (清明).
A limit of N working days accepted on day D ends at 24:00 of the N-th working day after D.

The step instances, as (accepted → ended; promised / legal deadline → outcome; working days used of promised):

  early      accept      03-03 09:00 → 03-03 15:00   ≤03-04 / ≤03-05        on / on       0 of 1
             fire_check  03-03 15:00 → 03-04 10:00   ≤03-06 / ≤03-11        on / on       1 of 3  (03-04)
             sign        03-03 15:00 → 03-04 11:00   ≤03-05 / ≤03-07        on / on       1 of 2
  permit     inspect     03-05 09:00 → 03-12 10:00   挂起 03-06 09:00 → 03-10 09:00: 2 wd (03-06, 03-07)
                                                     ≤03-07+2 = ≤03-11 / ≤03-12+2 = ≤03-14
                                                                            late / on     5 − 2 = 3 of 2
  on_time    accept      03-10 09:00 → 10:00         ≤03-11 / ≤03-12        on / on       0 of 1
             sign        03-10 10:00 → 03-12 17:00   ≤03-12 / ≤03-14        on / on       2 of 2 (its last day)
             fire_check  03-10 10:00 → 03-13 18:00   ≤03-13 / ≤03-18        on / on       3 of 3 (its last day)
  late       accept      03-17 09:00 → 10:00                                on / on       0 of 1
             sign        03-17 10:00 → 03-18 15:00   ≤03-19 / ≤03-21        on / on       1 of 2
             fire_check  03-17 10:00 → 03-24 11:00   ≤03-20 / ≤03-25        late / on     5 of 3 (18,19,20,21,24)
  very_late  accept      03-24 09:00 → 10:00         ≤03-25 / ≤03-26        on / on       0 of 1
             fire_check  03-24 10:00 → 03-31 10:00   ≤03-27 / ≤04-01        late / on     5 of 3 (25,26,27,28,31)
             sign        03-24 10:00 → 04-02 10:00   ≤03-26 / ≤03-28        late / late   7 of 2 (…, 04-01, 04-02)
  paused     accept      03-31 09:00 → 10:00                                on / on       0 of 1
             sign        03-31 10:00 → 04-01 16:00   ≤04-02 / ≤04-07        on / on       1 of 2
             fire_check  03-31 10:00 → 04-11 15:00   补正 04-01 10:00 → 04-07 09:00: 3 wd (04-01, 02, 03);
                                                     +2 wd extension: ≤04-03+5 = ≤04-11 / ≤04-09+5 = ≤04-16
                                                                            on / on       8 − 3 = 5 of 3
  overdue    accept      04-09 09:00 → 10:00                                on / on       0 of 1
             sign        04-09 10:00 → 04-10 15:00   ≤04-11                 on / on       1 of 2
             fire_check  04-09 10:00 → open          ≤04-14 / ≤04-17        overdue_open / open_not_due
  waiting    accept      04-14 09:00 → 10:00                                on / on       0 of 1
             sign        04-14 10:00 → open          ≤04-16 (24:00; now is 12:00)  open_not_due / open_not_due
             fire_check  04-14 10:00, 特别程序 since 04-15 09:00 (its clock stands there), ≤04-17
                                                                            open_not_due / open_not_due; 1 wd paused (04-15)

The cards (issued at the deadline that passed; "for" = the day that deadline ends; department):

  permit/case/yellow          03-08 00:00  for 03-07  fire (the permit bundle's lead)   open
  permit/inspect/yellow       03-12 00:00  for 03-11  fire                               verifying
  late/fire_check/yellow      03-21 00:00  for 03-20  fire                               closed 不属实 (dismissed)
  very_late/sign/yellow       03-27 00:00  for 03-26  urban                              closed 属实
  very_late/fire_check/yellow 03-28 00:00  for 03-27  fire                               open
  very_late/sign/red          03-29 00:00  for 03-28  urban (legal_passed)               rectifying
  very_late/case/yellow       04-01 00:00  for 03-31  amr (the opening bundle's lead)    open
  overdue/fire_check/yellow   04-15 00:00  for 04-14  fire                               open

No other card: every other step ended before its promised deadline, the very_late case's red card
(04-04 00:00) was cancelled when it ended on 04-02, the overdue step's red card (04-18) is not due.
Ages at 04-16 (working days after the day issued for, up to 04-16): for 03-07: 16 in March (03-10…03-31)
+ 11 in April (1,2,3,7–11,14,15,16) = 27; for 03-11: 14 + 11 = 25; for 03-27: 2 + 11 = 13; for 03-28:
1 + 11 = 12; for 03-31: 11; for 04-14: 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree

from helpers import at, iso
from hennan_flow.cli import main
from hennan_flow.clock.workdays import WorkCalendar
from hennan_flow.errors import InputError, NotFoundError
from hennan_flow.report.charts import GanttRow, RateRow, gantt_chart, month_cards_chart, rate_chart
from hennan_flow.report.supervision_common import RECORD_STATES, records_text
from hennan_flow.report.supervision_html import render_html
from hennan_flow.supervision.facts import DeadlineFact, Scope
from hennan_flow.supervision.figures import judge, workdays_used
from report_scenario import NOW, Seeded, seed

# -- the expected record, built from small pieces -----------------------------------------------------


def rate(
    on_time: int, late: int, overdue_open: int, open_not_due: int, value: float | None
) -> dict[str, Any]:
    return {
        "on_time": on_time,
        "late": late,
        "overdue_open": overdue_open,
        "open_not_due": open_not_due,
        "not_judged": 0,  # every step of both bundles has both limits
        "rate": value,
    }


def workdays(measured: int, used: tuple[float, int], promised: tuple[float, int]) -> dict[str, Any]:
    return {
        "measured": measured,
        "used_mean": used[0],
        "used_p90": used[1],
        "promised_mean": promised[0],
        "promised_p90": promised[1],
    }


def paused(
    supplement: tuple[int, int] = (0, 0),
    special_procedure: tuple[int, int] = (0, 0),
    suspended: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    return {
        "supplement": {"pauses": supplement[0], "workdays": supplement[1]},
        "special_procedure": {"pauses": special_procedure[0], "workdays": special_procedure[1]},
        "suspended": {"pauses": suspended[0], "workdays": suspended[1]},
    }


def figures(
    *,
    steps: tuple[int, int, int],
    promised: dict[str, Any],
    legal: dict[str, Any],
    days: dict[str, Any],
    cards: tuple[int, int, int],
    records: tuple[int, int, int | None, tuple[int, int, int, int]],
    pauses: dict[str, Any] | None = None,
    extensions: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    open_, closed, oldest, (s_open, s_verifying, s_rectifying, s_closed) = records
    return {
        "steps": {"accepted": steps[0], "completed": steps[1], "open": steps[2], "cancelled": 0},
        "promised": promised,
        "legal": legal,
        "workdays": days,
        "cards": {"yellow": cards[0], "red": cards[1], "dismissed": cards[2]},
        "records": {
            "open": open_,
            "closed": closed,
            "oldest_open_age": oldest,
            "states": {
                "open": s_open,
                "verifying": s_verifying,
                "rectifying": s_rectifying,
                "reviewing": 0,  # (上级复核 and 回访: DESIGN §9, none in this scenario)
                "revisiting": 0,
                "closed": s_closed,
            },
        },
        "paused": pauses or paused(),
        "extensions": {"count": extensions[0], "workdays": extensions[1]},
    }


AMR = figures(
    # accept ×7 (early, on_time, late, very_late, paused, overdue, waiting): all done within the hour
    steps=(7, 7, 0),
    promised=rate(7, 0, 0, 0, 1.0),
    legal=rate(7, 0, 0, 0, 1.0),
    days=workdays(7, (0.0, 0), (1.0, 1)),  # used 0 each, promised 1 each
    cards=(1, 0, 0),  # very_late/case/yellow: case-level cards go to the lead department
    records=(1, 0, 11, (1, 0, 0, 0)),
)
FIRE = figures(
    # fire_check ×7 + permit's inspect; open: overdue's (ready) and waiting's (paused)
    steps=(8, 6, 2),
    # on time: early, on_time, paused; late: late, very_late, permit; past due: overdue; not due: waiting
    promised=rate(3, 3, 1, 1, 0.4286),  # 3 / 7
    # legal: the six completed ones are all on time; overdue (≤04-17) and waiting are not due yet
    legal=rate(6, 0, 0, 2, 1.0),
    # used: early 1, on_time 3, late 5, very_late 5, paused 5, permit 3 → 22 / 6 = 3.67;
    # sorted 1,3,3,5,5,5: p90 = the ceil(0.9 × 6) = 6th = 5. promised: 3 ×5 and 2 → 17 / 6 = 2.83, p90 3
    days=workdays(6, (3.67, 5), (2.83, 3)),
    # permit/case, permit/inspect, late/fire_check (dismissed), very_late/fire_check, overdue/fire_check
    cards=(5, 0, 1),
    # not closed: permit/case (open, 27), permit/inspect (verifying, 25), very_late/fire_check (open, 13),
    # overdue/fire_check (open, 2); closed: late/fire_check
    records=(4, 1, 27, (3, 1, 0, 1)),
    pauses=paused(supplement=(1, 3), special_procedure=(1, 1), suspended=(1, 2)),
    extensions=(1, 2),
)
URBAN = figures(
    # sign ×7; open: waiting's
    steps=(7, 6, 1),
    promised=rate(5, 1, 0, 1, 0.8333),  # very_late late; 5 / 6
    legal=rate(5, 1, 0, 1, 0.8333),  # very_late past its legal deadline too
    # used: early 1, on_time 2, late 1, very_late 7, paused 1, overdue 1 → 13 / 6 = 2.17; sorted
    # 1,1,1,1,2,7: p90 = 6th = 7. promised 2 each
    days=workdays(6, (2.17, 7), (2.0, 2)),
    cards=(1, 1, 0),  # very_late/sign yellow (closed 属实) and red (rectifying, 12)
    records=(1, 1, 12, (0, 0, 1, 1)),
)
TOTALS = figures(
    steps=(22, 19, 3),
    promised=rate(15, 4, 1, 2, 0.75),  # 7 + 3 + 5 on time; 3 + 1 late; 15 / 20
    legal=rate(18, 1, 0, 3, 0.9474),  # 18 / 19
    # used: 0 (×7) + 22 + 13 = 35 / 19 = 1.84; sorted: 0 ×7, 1 ×5, 2, 3, 3, 5, 5, 5, 7 →
    # p90 = ceil(17.1) = 18th = 5. promised: 7 + 17 + 12 = 36 / 19 = 1.89; 1 ×7, 2 ×7, 3 ×5 → 18th = 3
    days=workdays(19, (1.84, 5), (1.89, 3)),
    cards=(7, 1, 1),
    records=(6, 2, 27, (4, 1, 1, 2)),
    pauses=paused(supplement=(1, 3), special_procedure=(1, 1), suspended=(1, 2)),
    extensions=(1, 2),
)
OPENING = figures(
    # the totals without permit's inspect (completed, late / on time, 3 of 2)
    steps=(21, 18, 3),
    promised=rate(15, 3, 1, 2, 0.7895),  # 15 / 19
    legal=rate(17, 1, 0, 3, 0.9444),  # 17 / 18
    # used: 35 − 3 = 32 / 18 = 1.78; sorted 0 ×7, 1 ×5, 2, 3, 5, 5, 5, 7 → 17th = 5.
    # promised: 36 − 2 = 34 / 18 = 1.89; 1 ×7, 2 ×6, 3 ×5 → 17th = 3
    days=workdays(18, (1.78, 5), (1.89, 3)),
    cards=(5, 1, 1),  # all but permit's two
    # not closed: very_late/fire_check (13), very_late/sign red (12), very_late/case (11), overdue (2)
    records=(4, 2, 13, (3, 0, 1, 2)),
    pauses=paused(supplement=(1, 3), special_procedure=(1, 1)),
    extensions=(1, 2),
)
PERMIT = figures(
    steps=(1, 1, 0),
    promised=rate(0, 1, 0, 0, 0.0),
    legal=rate(1, 0, 0, 0, 1.0),
    days=workdays(1, (3.0, 3), (2.0, 2)),
    cards=(2, 0, 0),
    records=(2, 0, 27, (1, 1, 0, 0)),
    pauses=paused(suspended=(1, 2)),
)
OPENING_CASES = {
    # whole cases against the bundle's 5 / 12 working days, from the case's start (09:00):
    # early ends 03-04 (≤03-10): 1 wd; on_time 03-13 (≤03-17): 3; late 03-24 11:00 (≤03-24 24:00): 5;
    # very_late 04-02 (promised ≤03-31 late, legal ≤04-10 on time): 7; paused: the 补正 stopped the case
    # clock for 3 wd: ≤04-08+3 = ≤04-11, ended 04-11 15:00 on time, 8 − 3 = 5; overdue (≤04-16 24:00) and
    # waiting (its clock stopped 04-15 by the 特别程序) are open, not due
    "cases": {"started": 7, "completed": 5, "open": 2, "terminated": 0, "refused": 0, "withdrawn": 0},
    "promised": rate(4, 1, 0, 2, 0.8),
    "legal": rate(5, 0, 0, 2, 1.0),
    "workdays": workdays(5, (4.2, 7), (5.0, 5)),  # 1, 3, 5, 7, 5: mean 21 / 5, p90 = 5th = 7
}
PERMIT_CASES = {
    # 2 / 5 working days from 03-05: ≤03-07 / ≤03-12; 挂起 does not stop the case clock; ended 03-12
    # 10:00: late / on time; used 03-06, 07, 10, 11, 12 = 5
    "cases": {"started": 1, "completed": 1, "open": 0, "terminated": 0, "refused": 0, "withdrawn": 0},
    "promised": rate(0, 1, 0, 0, 0.0),
    "legal": rate(1, 0, 0, 0, 1.0),
    "workdays": workdays(1, (5.0, 5), (2.0, 2)),
}


def open_record(s: Seeded, label: str, **fields: Any) -> dict[str, Any]:
    case_label, step, color = label.split("/")
    case = s.cases[case_label]
    task = None if step == "case" else task_id(s, case_label, step)
    return {
        "card": s.cards[label],
        "case": case,
        "scope": "case" if step == "case" else "step",
        "step": None if step == "case" else step,
        "task": task,
        "color": color,
        "handler": "superior_review" if color == "red" else "department",
        **fields,
    }


def task_id(s: Seeded, label: str, step: str) -> str:
    found = [t.id for t in s.engine.tasks(case=s.cases[label], state=None) if t.step == step]
    assert len(found) == 1
    return found[0]


# the scenario has no 好差评 review: the section is there, with nothing counted
REVIEWS_NONE: dict[str, Any] = {
    "period": {"from": None, "to": None, "by": "review date", "timezone": "Asia/Shanghai"},
    "department": None,
    "reviews": 0,
    "by_level": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    "satisfaction_rate": None,
    "bad": 0,
    "rectifications": {"opened": 0, "closed": 0, "on_time": 0, "late": 0, "open": 0, "overdue_open": 0},
    "rectified_on_time_rate": None,
    "bad_reviews": [],
}


def expected_record(s: Seeded) -> dict[str, Any]:
    opening, permit = "report_opening", "report_permit"
    return {
        "version": 1,
        "generated_at": iso(NOW),
        "calendar": "chinese-calendar-1.11.0",
        "provisional_years": [],
        "provisional": False,
        "period": {"from": None, "to": None, "by": "acceptance", "timezone": "Asia/Shanghai"},
        "department": None,
        "empty": False,
        "totals": TOTALS,
        "departments": [
            {"code": "amr", "name": "县市场监督管理局", "accountable": True, "figures": AMR},
            {"code": "fire", "name": "县消防救援大队", "accountable": True, "figures": FIRE},
            {"code": "urban", "name": "县城市管理和综合执法局", "accountable": True, "figures": URBAN},
        ],
        "bundles": [
            {
                "key": opening,
                "name": "开店一件事（报表测试）",
                "code": "HN-TEST-R01",
                "lead": "amr",
                "figures": OPENING,
                "cases": OPENING_CASES,
            },
            {
                "key": permit,
                "name": "消防检查（报表测试）",
                "code": "HN-TEST-R02",
                "lead": "fire",
                "figures": PERMIT,
                "cases": PERMIT_CASES,
            },
        ],
        # March: yellow for 03-07, 03-11, 03-20, 03-26, 03-27, 03-31 (the very_late case's, issued at
        # 04-01 00:00 = 03-31 24:00) and red for 03-28; April: overdue's yellow for 04-14
        "cards_by_month": [
            {"month": "2025-03", "yellow": 6, "red": 1},
            {"month": "2025-04", "yellow": 1, "red": 0},
        ],
        "open_records": [  # oldest first
            open_record(
                s,
                "permit/case/yellow",
                bundle=permit,
                department="fire",
                trigger="promised_passed",
                state="open",
                issued_at=iso("2025-03-08T00:00"),
                age_workdays=27,
            ),
            open_record(
                s,
                "permit/inspect/yellow",
                bundle=permit,
                department="fire",
                trigger="promised_passed",
                state="verifying",
                issued_at=iso("2025-03-12T00:00"),
                age_workdays=25,
            ),
            open_record(
                s,
                "very_late/fire_check/yellow",
                bundle=opening,
                department="fire",
                trigger="promised_passed",
                state="open",
                issued_at=iso("2025-03-28T00:00"),
                age_workdays=13,
            ),
            open_record(
                s,
                "very_late/sign/red",
                bundle=opening,
                department="urban",
                trigger="legal_passed",  # the legal deadline (03-28) came before 3 wd past the promise
                state="rectifying",
                issued_at=iso("2025-03-29T00:00"),
                age_workdays=12,
            ),
            open_record(
                s,
                "very_late/case/yellow",
                bundle=opening,
                department="amr",
                trigger="promised_passed",
                state="open",
                issued_at=iso("2025-04-01T00:00"),
                age_workdays=11,
            ),
            open_record(
                s,
                "overdue/fire_check/yellow",
                bundle=opening,
                department="fire",
                trigger="promised_passed",
                state="open",
                issued_at=iso("2025-04-15T00:00"),
                age_workdays=2,
            ),
        ],
        # very_late is the only case with two steps past their promised deadline
        "timeline": {
            "case": s.cases["very_late"],
            "bundle": opening,
            "bundle_name": "开店一件事（报表测试）",
            "state": "completed",
            "started_at": iso("2025-03-24T09:00"),
            "ended_at": iso("2025-04-02T10:00"),
            "promised_due": iso("2025-04-01T00:00"),  # 5 wd: 03-31 24:00
            "legal_due": iso("2025-04-11T00:00"),  # 12 wd: 04-10 24:00 (04-04 is 清明)
            "steps": [
                {
                    "task": task_id(s, "very_late", "accept"),
                    "step": "accept",
                    "name": "联办受理",
                    "department": "amr",
                    "state": "completed",
                    "accepted_at": iso("2025-03-24T09:00"),
                    "ended_at": iso("2025-03-24T10:00"),
                    "promised_due": iso("2025-03-26T00:00"),
                    "legal_due": iso("2025-03-27T00:00"),
                    "promised": "on_time",
                    "legal": "on_time",
                    "pauses": [],
                },
                {
                    "task": task_id(s, "very_late", "fire_check"),
                    "step": "fire_check",
                    "name": "消防安全检查",
                    "department": "fire",
                    "state": "completed",
                    "accepted_at": iso("2025-03-24T10:00"),
                    "ended_at": iso("2025-03-31T10:00"),
                    "promised_due": iso("2025-03-28T00:00"),
                    "legal_due": iso("2025-04-02T00:00"),
                    "promised": "late",
                    "legal": "on_time",
                    "pauses": [],
                },
                {
                    "task": task_id(s, "very_late", "sign"),
                    "step": "sign",
                    "name": "户外招牌设置",
                    "department": "urban",
                    "state": "completed",
                    "accepted_at": iso("2025-03-24T10:00"),
                    "ended_at": iso("2025-04-02T10:00"),
                    "promised_due": iso("2025-03-27T00:00"),
                    "legal_due": iso("2025-03-29T00:00"),
                    "promised": "late",
                    "legal": "late",
                    "pauses": [],
                },
            ],
        },
        "reviews": REVIEWS_NONE,
        "hotline": None,  # no 12345 order in the seeded database (tests/test_hotline_report.py)
    }


# -- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The scenario, once per database kind (the tests only read it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'hf.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    s = seed(url)
    yield s
    s.engine.close()


def run(s: Seeded, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`hennan-flow --db … --now NOW report supervision ARGS`: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(["--db", s.url, "--now", NOW, "report", "supervision", *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def schema() -> dict[str, Any]:
    text = (
        resources.files("hennan_flow").joinpath("schemas/supervision-report.schema.json").read_text("utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_errors(doc: Any) -> list[str]:
    validator = Draft202012Validator(schema(), format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


# -- the record, JSON and text ---------------------------------------------------------------------------


def test_the_record_holds_every_hand_computed_figure(seeded: Seeded) -> None:
    report = seeded.engine.supervision_report()
    expected = expected_record(seeded)
    for key in expected:  # key by key first, so a failure names the part that differs
        assert report[key] == expected[key], key
    assert report == expected


def test_json_output_is_the_record_and_valid_against_the_shipped_schema(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(seeded, capsys, "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)  # exactly one document
    assert doc == expected_record(seeded)
    assert schema_errors(doc) == []
    # the global --format json gives the same document
    with pytest.raises(SystemExit) as info:
        main(["--db", seeded.url, "--now", NOW, "--format", "json", "report", "supervision"])
    assert info.value.code in (0, None)
    assert json.loads(capsys.readouterr().out) == doc


def test_the_schema_refuses_what_the_record_must_not_hold(seeded: Seeded) -> None:
    """The schema check above can fail: drift in the record is caught."""
    doc = json.loads(json.dumps(seeded.engine.supervision_report()))
    doc["totals"]["promised"]["rate"] = 1.5
    doc["departments"][0]["figures"]["extra"] = 1
    del doc["open_records"][0]["age_workdays"]
    doc["cards_by_month"][0]["month"] = "March"
    doc["period"]["from"] = "2025-02-30"
    errors = schema_errors(doc)
    assert len(errors) == 5, errors


def test_text_output_states_every_figure(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(seeded, capsys)
    assert (code, err) == (0, "")
    s = seeded
    cards = s.cards
    no_pause = "补正 0 次（0 个工作日），特别程序 0 次（0 个工作日），挂起 0 次（0 个工作日）"
    expected = f"""\
红黄牌督办报告
截至 2025-04-16 12:00（北京时间），工作日历 chinese-calendar-1.11.0
统计期间：全部日期（办理环节按受理日期、案件按受理日期、红黄牌按亮牌所属日期；北京时间）
部门：全部

全部环节
  办理环节            受理 22（办结 19，在办 3，已取消 0）
  承诺时限            按时率 75.0%（按时 15/20）；超时 4，在办已超期 1；不计入：在办未到期 2，无此时限 0
  法定时限            按时率 94.7%（按时 18/19）；超时 1，在办已超期 0；不计入：在办未到期 3，无此时限 0
  用时（工作日）      实际用时 平均 1.84，90分位 5；承诺时限 平均 1.89，90分位 3（计入已办结环节 19 个）
  红黄牌              黄牌 7，红牌 1（以不属实或误报办结 1）
  督办记录            未办结 6（最久 27 个工作日）：待核查 4，核查中 1，整改中 1，上级复核中 0，回访中 0；已办结 2
  暂停计时            补正 1 次（3 个工作日），特别程序 1 次（1 个工作日），挂起 1 次（2 个工作日）
  延长审批            1 次（2 个工作日）

部门 县市场监督管理局（amr）
  办理环节            受理 7（办结 7，在办 0，已取消 0）
  承诺时限            按时率 100.0%（按时 7/7）；超时 0，在办已超期 0；不计入：在办未到期 0，无此时限 0
  法定时限            按时率 100.0%（按时 7/7）；超时 0，在办已超期 0；不计入：在办未到期 0，无此时限 0
  用时（工作日）      实际用时 平均 0，90分位 0；承诺时限 平均 1，90分位 1（计入已办结环节 7 个）
  红黄牌              黄牌 1，红牌 0（以不属实或误报办结 0）
  督办记录            未办结 1（最久 11 个工作日）：待核查 1，核查中 0，整改中 0，上级复核中 0，回访中 0；已办结 0
  暂停计时            {no_pause}
  延长审批            0 次（0 个工作日）

部门 县消防救援大队（fire）
  办理环节            受理 8（办结 6，在办 2，已取消 0）
  承诺时限            按时率 42.9%（按时 3/7）；超时 3，在办已超期 1；不计入：在办未到期 1，无此时限 0
  法定时限            按时率 100.0%（按时 6/6）；超时 0，在办已超期 0；不计入：在办未到期 2，无此时限 0
  用时（工作日）      实际用时 平均 3.67，90分位 5；承诺时限 平均 2.83，90分位 3（计入已办结环节 6 个）
  红黄牌              黄牌 5，红牌 0（以不属实或误报办结 1）
  督办记录            未办结 4（最久 27 个工作日）：待核查 3，核查中 1，整改中 0，上级复核中 0，回访中 0；已办结 1
  暂停计时            补正 1 次（3 个工作日），特别程序 1 次（1 个工作日），挂起 1 次（2 个工作日）
  延长审批            1 次（2 个工作日）

部门 县城市管理和综合执法局（urban）
  办理环节            受理 7（办结 6，在办 1，已取消 0）
  承诺时限            按时率 83.3%（按时 5/6）；超时 1，在办已超期 0；不计入：在办未到期 1，无此时限 0
  法定时限            按时率 83.3%（按时 5/6）；超时 1，在办已超期 0；不计入：在办未到期 1，无此时限 0
  用时（工作日）      实际用时 平均 2.17，90分位 7；承诺时限 平均 2，90分位 2（计入已办结环节 6 个）
  红黄牌              黄牌 1，红牌 1（以不属实或误报办结 0）
  督办记录            未办结 1（最久 12 个工作日）：待核查 0，核查中 0，整改中 1，上级复核中 0，回访中 0；已办结 1
  暂停计时            {no_pause}
  延长审批            0 次（0 个工作日）

一件事 report_opening 开店一件事（报表测试）（HN-TEST-R01，牵头部门 amr）
  办理环节            受理 21（办结 18，在办 3，已取消 0）
  承诺时限            按时率 78.9%（按时 15/19）；超时 3，在办已超期 1；不计入：在办未到期 2，无此时限 0
  法定时限            按时率 94.4%（按时 17/18）；超时 1，在办已超期 0；不计入：在办未到期 3，无此时限 0
  用时（工作日）      实际用时 平均 1.78，90分位 5；承诺时限 平均 1.89，90分位 3（计入已办结环节 18 个）
  红黄牌              黄牌 5，红牌 1（以不属实或误报办结 1）
  督办记录            未办结 4（最久 13 个工作日）：待核查 3，核查中 0，整改中 1，上级复核中 0，回访中 0；已办结 2
  暂停计时            补正 1 次（3 个工作日），特别程序 1 次（1 个工作日），挂起 0 次（0 个工作日）
  延长审批            1 次（2 个工作日）
  整件案件            受理 7（办结 5，在办 2，已终止 0，不予受理 0，已撤回 0）
  整件承诺时限        按时率 80.0%（按时 4/5）；超时 1，在办已超期 0；不计入：在办未到期 2，无此时限 0
  整件法定时限        按时率 100.0%（按时 5/5）；超时 0，在办已超期 0；不计入：在办未到期 2，无此时限 0
  整件用时（工作日）  实际用时 平均 4.2，90分位 7；承诺时限 平均 5，90分位 5（计入已办结案件 5 个）

一件事 report_permit 消防检查（报表测试）（HN-TEST-R02，牵头部门 fire）
  办理环节            受理 1（办结 1，在办 0，已取消 0）
  承诺时限            按时率 0.0%（按时 0/1）；超时 1，在办已超期 0；不计入：在办未到期 0，无此时限 0
  法定时限            按时率 100.0%（按时 1/1）；超时 0，在办已超期 0；不计入：在办未到期 0，无此时限 0
  用时（工作日）      实际用时 平均 3，90分位 3；承诺时限 平均 2，90分位 2（计入已办结环节 1 个）
  红黄牌              黄牌 2，红牌 0（以不属实或误报办结 0）
  督办记录            未办结 2（最久 27 个工作日）：待核查 1，核查中 1，整改中 0，上级复核中 0，回访中 0；已办结 0
  暂停计时            补正 0 次（0 个工作日），特别程序 0 次（0 个工作日），挂起 1 次（2 个工作日）
  延长审批            0 次（0 个工作日）
  整件案件            受理 1（办结 1，在办 0，已终止 0，不予受理 0，已撤回 0）
  整件承诺时限        按时率 0.0%（按时 0/1）；超时 1，在办已超期 0；不计入：在办未到期 0，无此时限 0
  整件法定时限        按时率 100.0%（按时 1/1）；超时 0，在办已超期 0；不计入：在办未到期 0，无此时限 0
  整件用时（工作日）  实际用时 平均 5，90分位 5；承诺时限 平均 2，90分位 2（计入已办结案件 1 个）

每月红黄牌（按亮牌所属日期）
  2025-03  黄牌    6  红牌    1
  2025-04  黄牌    1  红牌    0

未办结的督办记录，最久的在前（自亮牌所属日期起的工作日）
  2025-03-07   27 个工作日  黄牌  待核查      fire      report_permit  （整件）  牌 {cards["permit/case/yellow"]}
  2025-03-11   25 个工作日  黄牌  核查中      fire      report_permit  inspect  牌 {cards["permit/inspect/yellow"]}
  2025-03-27   13 个工作日  黄牌  待核查      fire      report_opening  fire_check  牌 {cards["very_late/fire_check/yellow"]}
  2025-03-28   12 个工作日  红牌  整改中      urban     report_opening  sign  牌 {cards["very_late/sign/red"]}
  2025-03-31   11 个工作日  黄牌  待核查      amr       report_opening  （整件）  牌 {cards["very_late/case/yellow"]}
  2025-04-14    2 个工作日  黄牌  待核查      fire      report_opening  fire_check  牌 {cards["overdue/fire_check/yellow"]}

案件 {s.cases["very_late"]} 的办理时间线（report_opening 开店一件事（报表测试）），已办结
  整件                受理 2025-03-24 09:00，结束 2025-04-02 10:00；承诺时限 2025-03-31 24:00，法定时限 2025-04-10 24:00
  accept              amr：受理 2025-03-24 09:00，结束 2025-03-24 10:00；承诺时限 2025-03-25 24:00：按时；法定时限 2025-03-26 24:00：按时
  fire_check          fire：受理 2025-03-24 10:00，结束 2025-03-31 10:00；承诺时限 2025-03-27 24:00：超时；法定时限 2025-04-01 24:00：按时
  sign                urban：受理 2025-03-24 10:00，结束 2025-04-02 10:00；承诺时限 2025-03-26 24:00：超时；法定时限 2025-03-28 24:00：超时

好差评（按评价日期）
  评价 0，满意率 —，差评 0
  差评整改：已办结 0（按时 0，超时 0），未办结 0（已超期 0）；按时整改率 —
  按等级：1 非常满意 0，2 满意 0，3 基本满意 0，4 不满意 0，5 非常不满意 0
"""
    assert out.splitlines() == expected.splitlines()
    assert out == expected


def _ids_and_codes(doc: Any) -> set[str]:
    """The ids and codes the report's record names (never a state or colour word): the text shows them as they are."""
    names = {doc["calendar"]}
    names |= {d["code"] for d in doc["departments"]}
    names |= {b[k] for b in doc["bundles"] for k in ("key", "code", "lead") if b[k]}
    names |= {
        r[k] for r in doc["open_records"] for k in ("card", "case", "bundle", "step", "department") if r[k]
    }
    t = doc["timeline"]
    if t is not None:
        names |= {t["case"], t["bundle"]} | {s[k] for s in t["steps"] for k in ("step", "department") if s[k]}
    if doc["reviews"] is not None:
        bad = doc["reviews"]["bad_reviews"]
        names |= {r[k] for r in bad for k in ("review", "step", "department") if r[k]}
    return {str(n) for n in names}


def test_the_records_line_shows_every_record_state() -> None:
    """DESIGN §9: a record is open, verifying, rectifying, reviewing (上级复核), revisiting (回访) or
    closed; the text line counts each, as the JSON and the HTML do."""
    states = {"open": 1, "verifying": 2, "rectifying": 3, "reviewing": 4, "revisiting": 5, "closed": 6}
    figures: Any = {"records": {"open": 15, "closed": 6, "oldest_open_age": 9, "states": states}}
    assert records_text(figures) == (
        "未办结 15（最久 9 个工作日）：待核查 1，核查中 2，整改中 3，上级复核中 4，回访中 5；已办结 6"
    )
    assert set(states) == set(RECORD_STATES)


def test_the_text_report_has_no_english_word_outside_ids_and_codes(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    """County staff read the text form: once the ids, bundle keys, step ids, department codes and
    ISO instants are taken out, no Latin word of three letters or more is left."""
    code, out, _ = run(seeded, capsys)
    assert code == 0
    doc = seeded.engine.supervision_report()
    names = _ids_and_codes(doc)
    assert {"report_opening", "fire_check", "amr", "HN-TEST-R01"} <= names
    assert not names & {"open", "yellow", "red", "late", "completed", "verifying"}  # no word is excused
    words = []
    for line in out.splitlines():
        for name in sorted(names, key=len, reverse=True):
            line = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", line)
        line = re.sub(r"\d{4}-\d\d-\d\d( \d\d:\d\d)?", " ", line)
        words += re.findall(r"[A-Za-z]{3,}", line)
    assert words == []


# -- filters ---------------------------------------------------------------------------------------------


def test_april_in_the_fire_department(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    """--from 2025-04-01 --to 2025-04-30 --department fire: the fire steps accepted in April and the fire
    cards issued for April days (paused's fire_check was accepted 03-31: not in April)."""
    report = seeded.engine.supervision_report(
        start=date(2025, 4, 1), end=date(2025, 4, 30), department="fire"
    )
    fire = figures(
        steps=(2, 0, 2),  # overdue's (ready) and waiting's (paused) fire_check
        promised=rate(0, 0, 1, 1, 0.0),  # overdue past ≤04-14; waiting not due: 0 of 1
        legal=rate(0, 0, 0, 2, None),  # neither legal deadline (≤04-17) has passed: nothing rated
        days=workdays(0, (None, None), (None, None)),
        cards=(1, 0, 0),  # overdue/fire_check/yellow, for 04-14
        records=(1, 0, 2, (1, 0, 0, 0)),
        pauses=paused(special_procedure=(1, 1)),  # waiting's, running: 04-15 up to today
    )
    assert report["period"] == {
        "from": "2025-04-01",
        "to": "2025-04-30",
        "by": "acceptance",
        "timezone": "Asia/Shanghai",
    }
    assert report["department"] == "fire" and report["empty"] is False
    assert report["totals"] == fire
    assert report["departments"] == [
        {"code": "fire", "name": "县消防救援大队", "accountable": True, "figures": fire}
    ]
    assert [(b["key"], b["figures"], b["cases"]) for b in report["bundles"]] == [
        ("report_opening", fire, None)  # no whole-case figures with a department filter
    ]
    assert report["cards_by_month"] == [{"month": "2025-04", "yellow": 1, "red": 0}]
    assert [r["card"] for r in report["open_records"]] == [seeded.cards["overdue/fire_check/yellow"]]
    timeline = report["timeline"]
    assert timeline is not None and timeline["case"] == seeded.cases["overdue"]  # its step is past due
    assert [(t["step"], t["state"], t["ended_at"], t["promised"], t["legal"]) for t in timeline["steps"]] == [
        ("fire_check", "ready", None, "overdue_open", "open_not_due")
    ]
    code, out, _ = run(
        seeded,
        capsys,
        "--from",
        "2025-04-01",
        "--to",
        "2025-04-30",
        "--department",
        "fire",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out) == json.loads(json.dumps(report))
    assert schema_errors(json.loads(out)) == []


def test_march_counts_a_card_by_the_day_it_was_issued_for(seeded: Seeded) -> None:
    """--to 2025-03-31: the very_late case's yellow card was issued at 04-01 00:00, i.e. 03-31 24:00."""
    report = seeded.engine.supervision_report(start=date(2025, 3, 1), end=date(2025, 3, 31))
    assert report["totals"] == figures(
        # early 3, permit 1, on_time 3, late 3, very_late 3, paused 3 (all accepted 03-31): all completed
        steps=(16, 16, 0),
        promised=rate(12, 4, 0, 0, 0.75),  # late: permit, late, very_late ×2
        legal=rate(15, 1, 0, 0, 0.9375),  # very_late's sign
        # used: 0 ×5, 1 ×4, 2, 3, 3, 5, 5, 5, 7 = 34 / 16 = 2.125 → 2.13 (half up); p90 = 15th = 5;
        # promised: 1 ×5, 2 ×6, 3 ×5 = 32 / 16 = 2.0; p90 = 15th = 3
        days=workdays(16, (2.13, 5), (2.0, 3)),
        cards=(6, 1, 1),  # every card but overdue's (for 04-14)
        records=(5, 2, 27, (3, 1, 1, 2)),
        pauses=paused(supplement=(1, 3), suspended=(1, 2)),  # paused's fire_check counts all its 3 wd
        extensions=(1, 2),
    )
    assert report["cards_by_month"] == [{"month": "2025-03", "yellow": 6, "red": 1}]
    assert report["timeline"] is not None and report["timeline"]["case"] == seeded.cases["very_late"]
    # the cases started in March, against the bundles' own limits
    assert [(b["key"], b["cases"]["cases"] if b["cases"] else None) for b in report["bundles"]] == [
        (
            "report_opening",
            {"started": 5, "completed": 5, "open": 0, "terminated": 0, "refused": 0, "withdrawn": 0},
        ),
        (
            "report_permit",
            {"started": 1, "completed": 1, "open": 0, "terminated": 0, "refused": 0, "withdrawn": 0},
        ),
    ]


# -- empty, unknown, reversed ------------------------------------------------------------------------------


def test_an_empty_period_is_a_report_that_says_so(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(seeded, capsys, "--from", "2025-01-01", "--to", "2025-01-31")
    assert (code, err) == (0, "")
    assert out.splitlines()[3:6] == ["部门：全部", "", "本期间没有受理的办理环节。"]
    assert "一件事 " not in out and "（amr）" not in out and "办理时间线" not in out

    code, out, err = run(seeded, capsys, "--from", "2025-01-01", "--to", "2025-01-31", "--format", "json")
    doc = json.loads(out)
    assert (code, err, doc["empty"]) == (0, "", True)
    assert schema_errors(doc) == []
    zero = figures(
        steps=(0, 0, 0),
        promised=rate(0, 0, 0, 0, None),
        legal=rate(0, 0, 0, 0, None),
        days=workdays(0, (None, None), (None, None)),
        cards=(0, 0, 0),
        records=(0, 0, None, (0, 0, 0, 0)),
    )
    assert doc["totals"] == zero
    assert [doc[k] for k in ("departments", "bundles", "cards_by_month", "open_records", "timeline")] == [
        [],
        [],
        [],
        [],
        None,
    ]
    code, out, _ = run(seeded, capsys, "--from", "2025-01-01", "--to", "2025-01-31", "--format", "html")
    assert code == 0 and "本期间没有受理的办理环节" in out and "<svg" not in out

    # a known department without steps in the period: the same answer, naming it
    code, out, _ = run(seeded, capsys, "--from", "2025-04-12", "--to", "2025-04-13", "--department", "urban")
    assert code == 0 and "本期间部门 urban 没有受理的办理环节。" in out


def test_an_unknown_department_is_one_line_and_exit_2(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(seeded, capsys, "--department", "nope")
    assert (code, out) == (2, "")
    assert err == "错误：没有部门 'nope'。建议：已有的部门代码：amr、fire、urban\n"
    with pytest.raises(NotFoundError):
        seeded.engine.supervision_report(department="nope")


def test_a_reversed_range_is_one_line_and_exit_2(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(seeded, capsys, "--from", "2025-04-30", "--to", "2025-04-01")
    assert (code, out) == (2, "")
    assert err == "错误：统计期颠倒：起 2025-04-30 晚于止 2025-04-01。建议：--from 须不晚于 --to\n"
    with pytest.raises(InputError):
        seeded.engine.supervision_report(start=date(2025, 4, 30), end=date(2025, 4, 1))


def test_a_bad_date_is_one_line_and_exit_2(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(seeded, capsys, "--to", "2025-13-01")
    assert (code, out) == (2, "")
    assert err == "错误：--to '2025-13-01' 不是日期。建议：请写成 YYYY-MM-DD，如 2025-04-01\n"


def test_output_file(seeded: Seeded, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, err = run(seeded, capsys, "--format", "json", "--output", str(target))
    assert (code, out) == (0, "")
    assert err == f"supervision report: 22 step(s) in scope; written to {target}\n"
    assert json.loads(target.read_text(encoding="utf-8"))["totals"]["steps"]["accepted"] == 22


# -- the HTML page -------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """What the accessibility checks need: tags in order with their attributes, and text per element id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_of: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in {"meta", "link", "br", "img", "input", "rect", "line", "path", "circle"}:
            self._open.append(attributes.get("id"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            if ident:
                self.text_of[ident] = self.text_of.get(ident, "") + data


def test_the_html_page_is_self_contained_and_accessible(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(seeded, capsys, "--format", "html")
    assert code == 0
    page = _Page()
    page.feed(out)
    tags = [t for t, _ in page.tags]
    # nothing fetched at view time: no script, no external style sheet, image, frame or font
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(tags)
    refs = [v for _, a in page.tags for k, v in a.items() if k in {"src", "href"} and v]
    assert all(v.startswith("#") for v in refs), refs
    assert "url(" not in re.sub(r"url\(#[\w-]+\)", "", out) and "@import" not in out
    # headings: one h1, then h2 sections
    headings = [t for t in tags if re.fullmatch(r"h[1-6]", t)]
    assert headings[0] == "h1" and headings.count("h1") == 1 and set(headings[1:]) == {"h2"}
    # three charts, each an SVG image with a title and a description it points at
    svgs = [a for t, a in page.tags if t == "svg"]
    assert [a["id"] for a in svgs] == ["chart-rates", "chart-months", "chart-timeline"]
    for a in svgs:
        assert a["role"] == "img"
        title, desc = (a["aria-labelledby"] or "").split()
        assert (title, desc) == (f"{a['id']}-title", f"{a['id']}-desc")
        assert page.text_of[title].strip() and page.text_of[desc].strip()
    assert "县消防救援大队：承诺 42.9%（3/7），法定 100.0%（6/6）" in page.text_of["chart-rates-desc"]
    assert "2025-03：黄牌 6 张，红牌 1 张；2025-04：黄牌 1 张，红牌 0 张" in page.text_of["chart-months-desc"]
    # every table has a caption, and every chart is followed by its data table
    assert tags.count("table") == tags.count("caption") >= 9
    for chart in ("chart-rates", "chart-months", "chart-timeline"):
        start = next(i for i, (t, a) in enumerate(page.tags) if t == "svg" and a.get("id") == chart)
        after = tags[start:]
        assert "table" in after and after.index("table") < after.index("h2"), chart
    # readable printed
    assert "@media print" in out and "print-color-adjust: exact" in out
    # the charts are well-formed XML
    for chunk in re.findall(r"<svg\b.*?</svg>", out, flags=re.S):
        etree.fromstring(chunk.encode())


def test_chart_text_is_escaped_and_charts_are_well_formed_svg() -> None:
    hostile = '<script>alert("x")</script> & 县局'
    rates = rate_chart(
        "r",
        title=hostile,
        desc=hostile,
        rows=[RateRow(hostile, (("promised", 0.5, hostile), ("legal", None, "—")))],
    )
    months = month_cards_chart("m", title=hostile, desc=hostile, months=[(hostile, 3, 2), ("2025-04", 0, 0)])
    start = at("2025-03-24T10:00")
    gantt = gantt_chart(
        "g",
        title=hostile,
        desc=hostile,
        rows=[
            GanttRow(
                hostile,
                start,
                None,
                at("2025-03-28T00:00"),
                None,
                True,
                hostile,
                ((at("2025-03-25T09:00"), None),),
            )
        ],
        now=at("2025-03-31T12:00"),
    )
    for svg in (rates, months, gantt):
        assert "<script>" not in svg
        root = etree.fromstring(str(svg).encode())
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
        ns = {"s": "http://www.w3.org/2000/svg"}
        assert root.findtext("s:title", namespaces=ns) == hostile
        assert root.findtext("s:desc", namespaces=ns) == hostile


def test_the_renderers_are_pure_functions_of_the_record(seeded: Seeded) -> None:
    report = seeded.engine.supervision_report()
    assert render_html(report) == render_html(json.loads(json.dumps(report)))


# -- the definitions, on their own ---------------------------------------------------------------------------


def test_on_time_means_at_or_before_the_deadline_and_a_paused_clock_stands_still() -> None:
    due = at("2025-03-14T00:00")  # 2025-03-13 24:00
    deadline = DeadlineFact("promised", "workday", 3, 6, False, due, at("2025-03-19T00:00"))
    now = at("2025-03-20T12:00")
    assert judge("completed", due, deadline, "promised", now) == "on_time"  # exactly at the deadline
    assert judge("completed", at("2025-03-14T00:00:01"), deadline, "promised", now) == "late"
    assert judge("ready", None, deadline, "promised", at("2025-03-14T00:00")) == "open_not_due"
    assert judge("ready", None, deadline, "promised", now) == "overdue_open"
    assert judge("ready", None, deadline, "legal", now) == "overdue_open"
    paused_before = DeadlineFact(
        "promised", "workday", 3, 6, False, due, None, paused_since=at("2025-03-12T09:00")
    )
    assert judge("paused", None, paused_before, "promised", now) == "open_not_due"  # its clock stopped 03-12
    paused_after = DeadlineFact(
        "promised", "workday", 3, 6, False, due, None, paused_since=at("2025-03-17T09:00")
    )
    assert judge("paused", None, paused_after, "promised", now) == "overdue_open"
    assert judge("paused", None, paused_after, "legal", now) == "not_judged"  # no legal deadline
    assert judge("ready", None, None, "promised", now) == "not_judged"
    pending = DeadlineFact("promised", "workday", 3, 6, True, None, None)
    assert judge("ready", None, pending, "promised", now) == "not_judged"
    assert judge("cancelled", now, deadline, "promised", now) == "cancelled"


def test_working_days_used_count_after_the_acceptance_day_and_skip_pauses() -> None:
    cal = WorkCalendar()
    monday = at("2025-03-10T10:00")
    assert workdays_used(monday, at("2025-03-10T16:00"), [], cal) == 0  # the same day
    assert workdays_used(monday, at("2025-03-11T09:00"), [], cal) == 1
    assert workdays_used(monday, at("2025-03-14T00:00"), [], cal) == 3  # 03-13 24:00 belongs to Thursday
    assert workdays_used(monday, at("2025-03-17T09:00"), [], cal) == 5  # the weekend is not counted
    pause = (at("2025-03-11T10:00"), at("2025-03-13T09:00"))  # 03-11, 03-12
    assert workdays_used(monday, at("2025-03-14T15:00"), [pause], cal) == 2
    stops = [pause, (at("2025-03-12T10:00"), at("2025-03-14T09:00"))]  # overlapping: 03-11 .. 03-13
    assert workdays_used(monday, at("2025-03-14T15:00"), stops, cal, union=True) == 1
    assert workdays_used(monday, at("2025-03-14T15:00"), stops, cal) == 0  # never below zero
    assert workdays_used(at("2030-03-10T10:00"), at("2030-03-12T10:00"), [], cal) is None  # no calendar data


def test_a_reversed_scope_is_refused() -> None:
    with pytest.raises(InputError, match="统计期颠倒"):
        Scope(start=date(2025, 4, 2), end=date(2025, 4, 1))
    assert Scope(start=date(2025, 4, 1), end=date(2025, 4, 1)).has(date(2025, 4, 1))
    lo, hi = Scope(start=date(2025, 4, 1), end=date(2025, 4, 1)).bounds()
    assert (lo, hi) == (at("2025-04-01T00:00"), at("2025-04-02T00:00"))
    assert isinstance(lo, datetime)
