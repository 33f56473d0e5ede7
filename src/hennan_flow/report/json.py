"""JSON audit report: the record shape itself, one document (schema: schemas/audit.schema.json)."""

from __future__ import annotations

import json

from .records import AuditRecords

__all__ = ["render_json"]


def render_json(records: AuditRecords) -> str:
    """Exactly one JSON document, UTF-8 text kept readable (no \\u escapes), ending in a newline."""
    return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
