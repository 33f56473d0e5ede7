"""Form data errors for applicants (issue 18): every missing field once at its own pointer, every
unknown field, messages in Chinese, never jsonschema's English text nor the submitted value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hennan_flow.errors import FieldError, FormDataError
from hennan_flow.stepforms.data import check_form_data

REGISTER = json.loads(
    (Path(__file__).parents[1] / "forms" / "enterprise_opening" / "register.schema.json").read_text("utf-8")
)


def refused(schema: dict[str, Any], data: dict[str, Any]) -> tuple[FieldError, ...]:
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, data, step="register", form="enterprise_opening/register")
    return info.value.fields


def test_an_empty_submission_names_every_required_field_once() -> None:
    fields = refused(REGISTER, {"surprise": 1})
    pointers = [f.field for f in fields]
    assert sorted(pointers) == sorted(["/" + n for n in REGISTER["required"]] + ["/surprise"])
    assert len(set(pointers)) == len(pointers)
    messages = {f.field: f.message for f in fields}
    assert messages["/company_name"] == "请填写企业名称"
    assert messages["/surprise"] == "surprise 不是本表单的字段"


def test_messages_are_chinese_and_never_quote_the_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "capital": {"type": "number", "title": "注册资本"},
            "founded": {"type": "string", "format": "date", "title": "成立日期"},
            "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9X]$", "title": "身份证号"},
        },
    }
    data = {"capital": "一百万", "founded": "2026-13-45", "id_number": "43042219900101122Z"}
    messages = {f.field: f.message for f in refused(schema, data)}
    assert messages == {
        "/capital": "注册资本：应为数字",
        "/founded": "成立日期：日期格式应为 YYYY-MM-DD",
        "/id_number": "身份证号：格式不正确",
    }
    text = " ".join(messages.values())
    assert not any(v in text for v in data.values())
    assert not any(w in text for w in ("is not", "does not match", "required property"))


def test_nested_fields_get_their_own_pointer() -> None:
    schema = {
        "type": "object",
        "properties": {
            "holders": {
                "type": "array",
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"title": "姓名"}}},
            }
        },
    }
    assert refused(schema, {"holders": [{"name": "甲"}, {}]}) == (
        FieldError("/holders/1/name", "请填写姓名"),
    )
