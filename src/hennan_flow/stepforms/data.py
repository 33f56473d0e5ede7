"""Form data against the step's JSON Schema: one clear message per field, nothing stored on failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..errors import FieldError, FormDataError, Location

__all__ = ["check_form_data", "form_validator"]


def _pointer(error: ValidationError) -> str:
    path = list(error.absolute_path)
    required: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(required, list):
        missing = next((p for p in required if p not in error.instance), None)
        if missing is not None:
            path.append(missing)
    if (
        error.validator == "additionalProperties"
        and isinstance(error.instance, dict)
        and isinstance(schema, dict)
    ):
        allowed = set(schema.get("properties", {}))
        extra = next((k for k in error.instance if k not in allowed), None)
        if extra is not None:
            path.append(extra)
    return "/" + "/".join(str(p) for p in path)


def _message(error: ValidationError, schema: Mapping[str, Any]) -> str:
    field = _pointer(error).rsplit("/", 1)[-1]
    title = schema.get("properties", {}).get(field, {}).get("title") if isinstance(schema, Mapping) else None
    label = f"{title} ({field})" if title else field
    if error.validator == "required":
        return f"{label} is required"
    if error.validator == "additionalProperties":
        return f"{field} is not a field of this form"
    return error.message


def form_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for a form schema (build once per schema and reuse)."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_form_data(
    schema: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    *,
    step: str,
    form: str | None,
    validator: Draft202012Validator | None = None,
) -> None:
    """Raise FormDataError listing every field the schema refuses (data is not changed)."""
    if not isinstance(data, Mapping):
        raise FormDataError("form data must be a JSON object", location=Location(element=step))
    if schema is None:
        return
    validator = validator or form_validator(schema)
    errors = sorted(validator.iter_errors(dict(data)), key=lambda e: (_pointer(e), e.message))
    if not errors:
        return
    fields = tuple(FieldError(_pointer(e), _message(e, schema)) for e in errors)
    raise FormDataError(
        f"the data for step {step!r} does not match its form {form!r}: {len(fields)} field error(s)",
        fields=fields,
        hint="correct the listed fields and submit again; nothing was stored",
        location=Location(element=step),
    )
