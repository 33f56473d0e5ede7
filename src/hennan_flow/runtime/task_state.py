"""SpiffWorkflow's task state changes without building log details nobody reads.

SpiffWorkflow 3.2.0 (pinned) logs every state change of a task, and builds the record's details
(`Task.collect_log_extras`: the spec's name, the task's id, state names, its parent) before it
calls the logger, even when the `spiff.task` logger drops the record: a few per cent of a step.
`quiet_state_logging` (once, at import of the runtime) puts in the same method that asks the
logger first. Whoever turns the logger on gets the same records with the same details.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from SpiffWorkflow import task as spiff_task
from SpiffWorkflow.util.task import TaskState

__all__ = ["quiet_state_logging"]

_log = spiff_task.logger  # 'spiff.task'
_ORIGINAL = spiff_task.Task._set_state


def _set_state(self: Any, value: int) -> None:
    """`Task._set_state` of SpiffWorkflow 3.2.0, the log details built only for a record that is kept."""
    if value != self.state:
        elapsed = time.time() - self.last_state_change
        self.last_state_change = time.time()
        self._state = value
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                f"State changed to {TaskState.get_name(value)}",
                extra=self.collect_log_extras({"elapsed": elapsed}),
            )
    elif _log.isEnabledFor(logging.DEBUG):
        _log.debug(f"State set to {TaskState.get_name(value)}", extra=self.collect_log_extras())


def quiet_state_logging() -> None:
    """Point SpiffWorkflow's `Task._set_state` at the version above (idempotent)."""
    if spiff_task.Task._set_state is _ORIGINAL:
        spiff_task.Task._set_state = _set_state
