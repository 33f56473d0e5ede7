"""What the library gives a portal beside the queue: a step's form schema, a case's element states
for its diagram, and reads of one case or task checked for an actor (DESIGN §8)."""

from __future__ import annotations

import pytest

from helpers import OPENING, START, WALKS, migrated
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import NotFoundError, PermissionDenied
from http_service import DIRECTORY

APPLICANT = {"name": "衡南县云集湘味餐饮管理有限公司", "credit_code": "91430422MA4T8X2K3N"}


def test_form_schema_element_states_and_checked_reads(sqlite_url: str) -> None:
    migrated(sqlite_url, simulation=True)
    with Engine(sqlite_url, clock=SimulatedClock(START)) as engine:
        engine.load_directory(str(DIRECTORY))
        engine.deploy(str(OPENING), actor="admin-he")
        case = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-wang")
        [register] = case.ready
        schema = engine.form_schema(register.id)
        assert schema["type"] == "object" and "company_name" in schema["properties"]
        states = engine.element_states(case.id, actor="amr-h1")
        assert states["register"] == {
            "state": "ready",
            "task": register.id,
            "name": register.name,
            "department": "amr",
            "deadlines": states["register"]["deadlines"],
            "card": None,
        }
        engine.complete_task(
            register.id, data=WALKS["enterprise_opening"]["step_data"]["register"], actor="amr-h1"
        )
        states = engine.element_states(case.id)
        assert states["register"]["state"] == "completed" and states["seal_filing"]["state"] == "ready"

        assert engine.case(case.id, actor="window-wang").id == case.id  # who started it
        assert engine.task(register.id, actor="psb-h1").id == register.id  # psb has a step now
        with pytest.raises(PermissionDenied, match="health-h1"):  # no step of the case in health
            engine.case(case.id, actor="health-h1")
        with pytest.raises(PermissionDenied, match="health-h1"):
            engine.element_states(case.id, actor="health-h1")
        with pytest.raises(NotFoundError):
            engine.element_states("no-such-case")
