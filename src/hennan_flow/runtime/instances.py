"""One bound on the instances of every multi-instance step, whatever makes them (issue 28).

A step makes one task per instance: from `loopCardinality` (checked where the script engine
evaluates it, `workflow.EngineScriptEngine`) or from a collection named by `loopDataInputRef`
(checked here, as the step makes its instances: after its pre-script, before the first instance
exists). A collection that is missing, not a list/mapping/set, or longer than `MAX_INSTANCES` is an
`ExpressionError` (exit 2) naming the element, the collection and the bound; SpiffWorkflow's parallel
form would otherwise raise a bare TypeError on a missing collection and make one ready task per item
of any length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from functools import cache
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from ..errors import ExpressionError, Location

__all__ = ["MAX_INSTANCES", "bounded"]

MAX_INSTANCES = 500  # tasks one multi-instance step may create


def check_collection(spec: Any, my_task: Any) -> None:
    """Refuse the collection a multi-instance step would make its instances from, unless it is bounded."""
    name = getattr(spec.data_input, "bpmn_id", None) or "?"
    element = getattr(spec, "bpmn_id", None) or spec.name
    hint = f"在本环节之前给办件一个最多 {MAX_INSTANCES} 项的列表 '{name}'"
    if not spec.data_input.exists(my_task):
        raise ExpressionError(
            f"多实例环节的集合 '{name}' 不在办件数据中",
            hint=hint,
            location=Location(element=element),
        )
    value = spec.data_input.get(my_task)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | Mapping | Set):
        raise ExpressionError(
            f"多实例环节的集合 '{name}' 须为列表，不能是 {type(value).__name__}",
            hint=hint,
            location=Location(element=element),
        )
    if len(value) > MAX_INSTANCES:
        raise ExpressionError(
            f"多实例环节的集合 '{name}' 有 {len(value)} 项；一个多实例环节最多生成 {MAX_INSTANCES} 个实例",
            hint=hint,
            location=Location(element=element),
        )


class BoundedInstances(MultiInstanceTask):  # type: ignore[misc]
    """The check, where both of SpiffWorkflow's multi-instance forms first read their collection."""

    def create_children(self, my_task: Any) -> None:  # parallel: all instances at once
        if self.data_input is not None:
            check_collection(self, my_task)
        super().create_children(my_task)

    def init_remaining_items(self, my_task: Any) -> Any:  # sequential: the items still to run
        check_collection(self, my_task)
        return super().init_remaining_items(my_task)


@cache
def bounded(spec_class: type[Any]) -> type[Any]:
    """`spec_class` (a multi-instance spec class) with the collection bound (one class per class)."""
    if issubclass(spec_class, BoundedInstances):
        return spec_class
    return type(f"Bounded{spec_class.__name__}", (BoundedInstances, spec_class), {})
