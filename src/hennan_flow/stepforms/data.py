"""Form data against the step's JSON Schema: one clear message per field, nothing stored on failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..errors import FieldError, FormDataError, Location

__all__ = ["check_form_data", "form_validator"]


_TYPES = {
    "number": "应为数字",
    "integer": "应为整数",
    "string": "应为文字",
    "boolean": "应为是或否",
    "array": "应为列表",
    "object": "应为一组字段",
    "null": "应为空",
}
_FORMATS = {
    "date": "日期格式应为 YYYY-MM-DD",
    "date-time": "时间格式应为 YYYY-MM-DDTHH:MM:SS+08:00",
    "time": "时间格式应为 HH:MM:SS",
    "email": "电子邮箱格式不正确",
}
_RULES = {
    "pattern": "格式不正确",
    "enum": "应为所列选项之一",
    "const": "取值不正确",
    "minLength": "太短",
    "maxLength": "太长",
    "minimum": "太小",
    "exclusiveMinimum": "太小",
    "maximum": "太大",
    "exclusiveMaximum": "太大",
    "minItems": "项数太少",
    "maxItems": "项数太多",
    "uniqueItems": "有重复项",
}


def _label(schema: Any, name: str) -> str:
    title = schema.get("title") if isinstance(schema, Mapping) else None
    return title if isinstance(title, str) and title else name


def _field_errors(error: ValidationError) -> list[FieldError]:
    """One FieldError per field `error` is about, at the field's own pointer, in Chinese; never
    jsonschema's English text, never the submitted value."""
    base = "/" + "".join(f"{p}/" for p in error.absolute_path)
    schema: Any = error.schema
    props = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    if error.validator == "required" and isinstance(error.instance, Mapping):
        wanted: Any = error.validator_value
        names = [n for n in wanted if isinstance(n, str) and n not in error.instance]
        return [FieldError(base + n, f"请填写{_label(props.get(n), n)}") for n in names]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        extra = [str(k) for k in error.instance if k not in props]
        return [FieldError(base + k, f"{k} 不是本表单的字段") for k in extra]
    pointer = base.rstrip("/") or "/"
    name = str(error.absolute_path[-1]) if error.absolute_path else "表单"
    if error.validator == "type":
        kinds: Any = error.validator_value
        kind = kinds if isinstance(kinds, str) else (kinds[0] if kinds else "")
        rule = _TYPES.get(kind, "类型不正确")
    elif error.validator == "format":
        rule = _FORMATS.get(str(error.validator_value), "格式不正确")
    else:
        rule = _RULES.get(str(error.validator), f"不符合规则 {error.validator}")
    return [FieldError(pointer, f"{_label(schema, name)}：{rule}")]


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
    fields = tuple(
        sorted(
            {f: None for e in validator.iter_errors(dict(data)) for f in _field_errors(e)},
            key=lambda f: f.field,
        )
    )
    if not fields:
        return
    raise FormDataError(
        f"the data for step {step!r} does not match its form {form!r}: {len(fields)} field error(s)",
        fields=fields,
        hint="correct the listed fields and submit again; nothing was stored",
        location=Location(element=step),
    )
