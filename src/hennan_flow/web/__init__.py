"""The workbench in the browser: case diagrams, work queues, the supervision dashboard, the audit view.

`static/bpmn-js/` is the bpmn-js viewer from the npm registry (version and licence in its VERSION
file; `vendor.sh` refetches it), shipped in the wheel: no CDN, no network at run time.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["STATIC"]

STATIC = Path(str(resources.files(__name__) / "static"))
