"""The baseline: plain SpiffWorkflow 3.2.0 + SQLAlchemy Core + SQLite, the naive way to persist a case.

Each step: load the state row → deserialize (spec cached by reference, state holds tasks only) →
complete one ready user step → do_engine_steps → serialize → one SQLite commit. WAL with
synchronous=NORMAL, the same settings hennan_flow uses.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, event, insert, select, update

DATA = {"approved": True, "opinion": "同意"}  # every step's form data, on both sides

meta = MetaData()
cases = Table("cases", meta, Column("id", String(36), primary_key=True), Column("state", Text))


class Naive:
    def __init__(self, path: str, bpmn: str, pid: str) -> None:
        """`path`: a SQLite file, or a database URL (the PostgreSQL section, bench/pg.py)."""
        self.db = create_engine(path if "://" in path else f"sqlite:///{path}")

        if self.db.dialect.name == "sqlite":

            @event.listens_for(self.db, "connect")
            def _pragmas(conn: Any, _rec: Any) -> None:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")

        meta.create_all(self.db)
        parser = BpmnParser()
        parser.add_bpmn_str(bpmn.encode())
        self.spec, self.subs = parser.get_spec(pid), parser.get_subprocess_specs(pid)
        self.ser = BpmnWorkflowSerializer()
        self.conv = BpmnWorkflowConverter(BpmnWorkflow, self.ser.registry)

    def _dump(self, wf: Any) -> str:
        conv = self.conv  # the tasks and data only: the spec is cached by reference, not stored
        dct = WorkflowConverter.to_dict(conv, wf)
        dct["subprocesses"] = conv.mapping_to_dict(wf.subprocesses)
        dct["bpmn_events"] = self.ser.registry.convert(wf.bpmn_events)
        return json.dumps(dct)

    def _load(self, text: str) -> Any:
        dct, conv = json.loads(text), self.conv
        wf = BpmnWorkflow(self.spec, self.subs, deserializing=True)
        wf.tasks = conv.mapping_from_dict(dct["tasks"], UUID, workflow=wf)
        wf.task_tree = wf.tasks.get(UUID(dct["root"]))
        conv.set_default_attributes(wf, dct)
        conv.subprocesses_from_dict(dct["subprocesses"], wf)
        wf.bpmn_events = self.ser.registry.restore(dct.pop("bpmn_events", []))
        return wf

    def start(self) -> str:
        wf = BpmnWorkflow(self.spec, self.subs)
        wf.do_engine_steps()
        case_id = str(uuid.uuid4())
        with self.db.begin() as conn:
            conn.execute(insert(cases).values(id=case_id, state=self._dump(wf)))
        return case_id

    def step(self, case_id: str) -> bool:
        """Complete one ready step; whether the case still has one (found in the same transaction,
        as hennan_flow's completion hands back the steps it made ready)."""
        with self.db.begin() as conn:
            text = conn.execute(select(cases.c.state).where(cases.c.id == case_id)).scalar_one()
            wf = self._load(text)
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                return False
            ready[0].set_data(**DATA)
            ready[0].run()
            wf.do_engine_steps()
            conn.execute(update(cases).where(cases.c.id == case_id).values(state=self._dump(wf)))
            return bool(wf.get_tasks(state=TaskState.READY, manual=True))
