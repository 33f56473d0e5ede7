"""A case's SpiffWorkflow state: loaded from the workflow cache or the store, persisted by fragments.

The case row holds the workflow's top document and `hf_case_task` one fragment per task
(`runtime.workflow.StateCodec`), so a step writes only the fragments it changed. The case's revision
guards every write: a completion that finds it moved retries (`tasks.complete`). An open case's
workflow stays cached between its steps (`context.WorkflowCache`), keyed by that revision.
"""

from __future__ import annotations

from typing import Any

from ..db import hotpath
from ..db.hotpath import CaseRecord
from ..db.raw import Raw
from ..errors import StateError
from ..runtime.workflow import SPIFF_VERSION, next_timer
from .context import EngineContext
from .definitions import LoadedDefinition

__all__ = ["load_workflow", "persist_case"]


def load_workflow(ctx: EngineContext, raw: Raw, case: CaseRecord, definition: LoadedDefinition) -> Any:
    """The case's workflow: the cached object when its revision matches, else read and restored."""
    if case.spiff_version != SPIFF_VERSION:
        raise StateError(
            f"办件 {case.id} 由 SpiffWorkflow {case.spiff_version} 保存；本引擎运行 {SPIFF_VERSION}，"
            "不会猜测如何迁移",
            hint="请用保存该办件的 hennan_flow 版本办理",
        )
    workflow = ctx.workflows.get(case.id, case.rev)
    if workflow is None:
        top, fragments = hotpath.workflow_state(raw, case.id)
        workflow = ctx.codec.load(top, definition.specs, fragments)
    workflow.script_engine = ctx.script_engine  # never serialized: re-attach on every load
    return workflow


def persist_case(ctx: EngineContext, raw: Raw, case: CaseRecord, workflow: Any, *, new: bool = False) -> int:
    """Write the case row and the task fragments a step changed, guarded by the case revision.

    Returns the new revision. Only the columns and fragments that changed are written: every
    indexed column written is an index entry rewritten, every state byte is WAL written.
    """
    dump = ctx.codec.dump(workflow)
    case.next_timer_at = next_timer(workflow)
    if new:
        hotpath.insert_case(raw, case, top=dump.top, spiff_version=SPIFF_VERSION)
        rev = 1
    else:
        hotpath.update_case(raw, case, top=dump.top)  # StaleDataError, at the latest before the commit
        rev = case.rev + 1
    if dump.full:  # stored whole: no fragments
        if not new:
            hotpath.remove_fragments(raw, case.id)
        return rev
    hotpath.upsert_fragments(raw, case.id, dump.changed)
    if dump.removed:
        hotpath.remove_fragments(raw, case.id, dump.removed)
    return rev
