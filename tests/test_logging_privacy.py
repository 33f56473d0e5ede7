"""No personal data in the logs (issue 4): a full case of a real bundle, every logger at DEBUG.

A portal may run its root logger at DEBUG, or turn every logger up while it hunts a bug. Case data
holds names, ID numbers and phone numbers (个人信息), so none of it may reach a log record: not the
message, not its arguments, not any extra attribute a handler could format (SpiffWorkflow attaches
task data as `extra` below INFO; SQLAlchemy logs statement parameters and result rows).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import (
    FORMS,
    PROCESSES,
    START,
    WALKS,
    EveryRecord,
    every_record,
    everything_at_debug,
    migrated,
    strings_in,
)
from hennan_flow.engine import Engine, SimulatedClock

ID_NUMBER = "430422199912319999"  # a well-formed 18-digit ID that belongs to no one
NAME = "测试隐私人名甲乙"
PHONE = "13912349876"
PLANTED = (ID_NUMBER, NAME, PHONE, json.dumps(NAME)[1:-1])  # and the name as JSON writes it: \\u6d4b…


def leaks(records: list[logging.LogRecord], lines: list[str]) -> list[str]:
    found = []
    for record in records:
        texts = [record.getMessage(), *strings_in(record.__dict__)]
        for planted in PLANTED:
            if any(planted in t for t in texts):
                found.append(f"{record.name}:{record.levelname}: {planted} in {record.getMessage()[:80]!r}")
    found += [f"formatted: {line[:120]}" for line in lines if any(p in line for p in PLANTED)]
    return found


@pytest.fixture
def root_handler() -> Iterator[EveryRecord]:
    with every_record() as handler:
        yield handler


def _step_data(step: str) -> dict[str, Any]:
    data = dict(WALKS["enterprise_opening"]["step_data"].get(step, {}))
    if step == "register":
        data.update(legal_rep_name=NAME, legal_rep_id_number=ID_NUMBER, contact_phone=PHONE)
    return data


def _walk(url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Run a whole enterprise_opening case with the planted data, every logger at DEBUG throughout."""
    everything_at_debug(caplog)  # before the engine exists: it must quiet SpiffWorkflow itself
    migrated(url, simulation=True)  # a fixed instant inside the working-day calendar's data
    engine = Engine(url, clock=SimulatedClock(START))
    try:
        engine.deploy(str(PROCESSES), forms=str(FORMS))
        everything_at_debug(caplog)  # and a portal that turns every logger up after the engine started
        applicant = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}
        case = engine.start_case("enterprise_opening", applicant=applicant, data={"applicant_name": NAME})
        for _round in range(20):
            ready = engine.tasks(case=case.id)
            if not ready:
                break
            for task in ready:
                engine.complete_task(task.id, data=_step_data(task.step), actor="clerk-1")
        assert engine.case(case.id).state == "completed"
        assert engine.case_data(case.id)["legal_rep_id_number"] == ID_NUMBER  # the data really was there
    finally:
        engine.close()


def _engine_logs_sql_safely() -> bool:
    from hennan_flow.db.session import make_engine

    db = make_engine("sqlite://")
    try:
        return bool(db.hide_parameters) and db.logging_name == "hennan_flow"
    finally:
        db.dispose()


def test_a_full_case_at_debug_leaves_no_personal_data_in_the_logs(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, root_handler: EveryRecord
) -> None:
    _walk(sqlite_url, caplog)
    records = [r for r in root_handler.records if not r.name.startswith("sqlalchemy")]
    names = {r.name.split(".")[0] for r in records}
    # the loggers were really on: the engine's own and SpiffWorkflow's (turned up after the engine started)
    assert {"hennan_flow", "spiff"} <= names, names
    assert not leaks(
        records, [line for line in root_handler.lines if not line.split()[1].startswith("sqlalchemy")]
    )
    assert not leaks([r for r in caplog.records if not r.name.startswith("sqlalchemy")], [])


@pytest.mark.xfail(
    condition=not _engine_logs_sql_safely(),
    strict=True,
    reason="db/session.py make_engine must pass hide_parameters=True, logging_name='hennan_flow' to "
    "create_engine (runtime.SQL_LOGGER then withholds result rows); until then SQLAlchemy logs "
    "statement parameters and rows, which hold case data",
)
def test_sqlalchemy_logs_at_debug_hold_no_personal_data(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, root_handler: EveryRecord
) -> None:
    _walk(sqlite_url, caplog)
    records = [r for r in root_handler.records if r.name.startswith("sqlalchemy.engine")]
    assert any(r.levelno == logging.DEBUG for r in records), "SQLAlchemy's engine logger was not on"
    assert not leaks(records, [line for line in root_handler.lines if " sqlalchemy" in line])
    assert not leaks([r for r in caplog.records if r.name.startswith("sqlalchemy")], [])


def test_the_leak_check_finds_planted_data() -> None:
    """The check itself: a record carrying the data as message, argument or nested extra is caught."""
    make = logging.getLogger("hennan_flow.test").makeRecord
    as_message = make("x", logging.INFO, "f", 1, f"applicant {NAME}", (), None)
    as_arg = make("x", logging.INFO, "f", 1, "id %s", (ID_NUMBER,), None)
    as_extra = make("x", logging.DEBUG, "f", 1, "state set", (), None, extra={"data": {"a": [{"p": PHONE}]}})
    as_json = make("x", logging.DEBUG, "f", 1, "row %r", (json.dumps({"n": NAME}),), None)

    class Task:
        def __init__(self) -> None:
            self.data = {"name": NAME}

    as_object = make("x", logging.DEBUG, "f", 1, "task", (), None, extra={"task": Task()})
    for record in (as_message, as_arg, as_extra, as_json, as_object):
        assert leaks([record], []), record.__dict__
    assert leaks([], [f"INFO x {ID_NUMBER}"])
    assert not leaks([make("x", logging.INFO, "f", 1, "case=%s", ("0b4c",), None)], [])


def test_spiffworkflow_task_data_is_withheld_even_when_its_loggers_are_turned_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The filter the engine installs: a record SpiffWorkflow makes at DEBUG carries no task data."""
    from hennan_flow.runtime.workflow import quiet_spiff_loggers

    quiet_spiff_loggers()
    caplog.set_level(logging.DEBUG, logger="spiff.task")
    logging.getLogger("spiff.task").info(
        "State changed", extra={"data": {"name": NAME}, "task_spec": "register"}
    )
    (record,) = [r for r in caplog.records if r.name == "spiff.task"]
    assert record.task_spec == "register"  # ids and names of steps stay
    assert not leaks([record], [])
