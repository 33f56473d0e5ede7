"""SpiffWorkflow's pre- and post-scripts (`spiffworkflow:preScript`, `spiffworkflow:postScript`) on any step.

SpiffWorkflow runs them only in the specs its spiff-arena parser builds; hennan_flow builds the
plain parser's specs (no service or DMN semantics) and gives a spec with scripts these two hooks
(`scripted`), with SpiffWorkflow's timing: the pre-script runs when the step becomes ready, the
post-script when it completes. Both run through the workflow's script engine, so under the sandbox's
script rules, and only when code tasks are enabled (validate refuses them otherwise, naming the
element; the engine refuses them again at run time).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin

__all__ = ["ScriptHooks", "scripted"]


class ScriptHooks(BpmnSpecMixin):  # type: ignore[misc]
    """Runs `hf_prescript` as the step is updated to run and `hf_postscript` as it completes.

    It sits where SpiffWorkflow's own `SpiffBpmnTask` sits, right above `BpmnSpecMixin` in the
    spec's method order, so the step kind's own hooks wrap it as they wrap SpiffWorkflow's: a
    multi-instance step runs its pre-script before it makes its instances (they inherit what the
    script set), a loop before each pass.
    """

    hf_prescript: str | None = None
    hf_postscript: str | None = None

    def _update_hook(self, my_task: Any) -> Any:
        super()._update_hook(my_task)
        if self.hf_prescript:
            my_task.workflow.script_engine.execute(my_task, self.hf_prescript)
        return True  # as SpiffWorkflow's SpiffBpmnTask: the step kind above decides

    def _on_complete_hook(self, my_task: Any) -> None:
        if self.hf_postscript:
            my_task.workflow.script_engine.execute(my_task, self.hf_postscript)
        super()._on_complete_hook(my_task)


@cache
def scripted(spec_class: type[Any]) -> type[Any]:
    """`spec_class` with the pre-/post-script hooks (one class per spec class)."""
    if issubclass(spec_class, ScriptHooks) or not issubclass(spec_class, BpmnSpecMixin):
        return spec_class
    return type(f"Scripted{spec_class.__name__}", (spec_class, ScriptHooks), {})
