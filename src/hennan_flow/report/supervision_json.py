"""The supervision report as JSON: the record itself (schema: schemas/supervision-report.schema.json)."""

from __future__ import annotations

import json

from ..supervision.figures import SupervisionReport

__all__ = ["SCHEMA", "render_json"]

SCHEMA = "supervision-report.schema.json"  # in hennan_flow/schemas (resources.schema_path)


def render_json(report: SupervisionReport) -> str:
    """Exactly one JSON document, UTF-8 text kept readable (no \\u escapes), ending in a newline."""
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
