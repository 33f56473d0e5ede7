"""What an applicant reads when a submission is refused (issue 18 forms, issue 28 item 2).

Every missing field once, at its own pointer; every unknown field; Chinese sentences that name the field
(its `title`) and the rule, never the submitted value, never jsonschema's English, bounded in length.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers import ACCEPT, FORMS, REVIEW_LIB, START, WALKS, run_cli, simulation
from hennan_flow import FormDataError
from hennan_flow.engine.definitions import load_definition
from hennan_flow.stepforms.data import MAX_FIELD_ERRORS, check_form_data
from hennan_flow.stepforms.messages import MAX_MESSAGE

REGISTER = "enterprise_opening/register"
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b(is|not|required|property|match|expected|valid|schema|allowed|too)\b", re.I)


def form(ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((FORMS / f"{ref}.schema.json").read_text(encoding="utf-8"))
    return schema


def refused(schema: Any, data: dict[str, Any], ref: str = "f") -> list[tuple[str, str]]:
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, data, step="s", form=ref)
    return [(f.field, f.message) for f in info.value.fields]


def test_an_empty_submission_names_every_missing_field_once_at_its_own_pointer() -> None:
    schema = form(REGISTER)
    got = refused(schema, {}, REGISTER)
    expected = [
        (f"/{n}", f"请填写{schema['properties'][n]['title']}")
        for n in schema["properties"]
        if n in schema["required"]
    ]
    assert got == expected  # in the form's order, each field once
    assert len(got) == len(schema["required"]) == 8


def test_every_unknown_field_is_named() -> None:
    data = {**WALKS["enterprise_opening"]["step_data"]["register"], "nickname": "x", "a/b": 1, "备注": "y"}
    assert refused(form(REGISTER), data, REGISTER) == [
        ("/a~1b", "“a/b”不是本表单的字段"),
        ("/nickname", "“nickname”不是本表单的字段"),
        ("/备注", "“备注”不是本表单的字段"),
    ]


def test_unknown_fields_are_named_under_composition_and_pattern_properties() -> None:
    composed = {
        "type": "object",
        "allOf": [{"properties": {"a": {"type": "string", "title": "甲"}}}],
        "properties": {
            "sub": {
                "type": "object",
                "title": "子项",
                "properties": {"x": {}},
                "unevaluatedProperties": False,
            }
        },
        "unevaluatedProperties": False,
    }
    data = {"a": "1", "b": 2, "sub": {"x": 1, "y": 2}}
    assert refused(composed, data) == [("/sub/y", "子项中没有“y”这一项"), ("/b", "“b”不是本表单的字段")]
    patterned = {
        "type": "object",
        "properties": {"x": {}},
        "patternProperties": {"^note_[a-z]+$": {"type": "string"}},
        "additionalProperties": False,
    }
    assert refused(patterned, {"x": 1, "note_ok": "fine", "note_BAD": "y"}) == [
        ("/note_BAD", "“note_BAD”不是本表单的字段")
    ]


def test_rules_are_said_in_chinese_with_the_field_title() -> None:
    schema = {
        "type": "object",
        "properties": {
            "capital": {"type": "number", "title": "注册资本", "minimum": 1},
            "staff": {"type": "integer", "title": "职工人数", "maximum": 500},
            "founded": {"type": "string", "title": "成立日期", "format": "date"},
            "kind": {"enum": ["a", "b"], "title": "企业类型"},
            "agree": {"const": True, "title": "承诺书"},
            "name": {"type": "string", "title": "企业名称", "minLength": 1, "maxLength": 5},
        },
        "required": ["name"],
    }
    data = {"capital": "一百", "staff": 501, "founded": "2026/03/01", "kind": "c", "agree": False, "name": ""}
    assert dict(refused(schema, data)) == {
        "/capital": "注册资本应为数字",
        "/staff": "职工人数不能大于 500",
        "/founded": "成立日期的日期格式应为 YYYY-MM-DD",
        "/kind": "请从所列选项中选择企业类型",
        "/agree": "请勾选承诺书",
        "/name": "请填写企业名称",
    }


def test_a_value_is_never_quoted_back() -> None:
    schema = form(REGISTER)
    data = {
        **WALKS["enterprise_opening"]["step_data"]["register"],
        "legal_rep_id_number": "43042219900101122Z",
    }
    [(field, message)] = refused(schema, data, REGISTER)
    assert (field, message) == ("/legal_rep_id_number", "法定代表人公民身份号码格式不正确")
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, data, step="register", form=REGISTER)
    assert "43042219900101122Z" not in str(info.value)


def _bad_values(prop: dict[str, Any]) -> list[Any]:
    return [None, [1], {"x": 1}, "", "x" * 500, -1, 10**12, True]


@pytest.mark.parametrize(
    "path", sorted(FORMS.glob("*/*.schema.json")), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_no_raw_jsonschema_text_reaches_an_applicant(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    ref = f"{path.parent.name}/{path.name.removesuffix('.schema.json')}"
    messages = [m for _, m in refused(schema, {"unknown_field": 1}, ref)]
    for name, prop in schema["properties"].items():
        for value in _bad_values(prop):
            try:
                check_form_data(schema, {name: value}, step="s", form=ref)
            except FormDataError as exc:
                messages += [f.message for f in exc.fields]
    assert messages
    for message in messages:
        assert CJK.search(message) and not ENGLISH.search(message), message
        assert len(message) <= MAX_MESSAGE and "x" * 50 not in message


def test_nested_fields_are_named_by_their_titles() -> None:
    person = {
        "type": "object",
        "properties": {"name": {"type": "string", "title": "姓名"}},
        "required": ["name"],
    }
    schema = {
        "type": "object",
        "$defs": {"person": person},
        "properties": {
            "members": {"type": "array", "title": "家庭成员", "items": {"$ref": "#/$defs/person"}}
        },
    }
    assert refused(schema, {"members": [{"name": "张三"}, {"name": 3}, {}]}) == [
        ("/members/1/name", "家庭成员第 2 项的姓名应为文字"),
        ("/members/2/name", "请填写家庭成员第 3 项的姓名"),
    ]


def test_a_designer_words_a_rule_with_x_hf_messages() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id_number": {
                "type": "string",
                "title": "公民身份号码",
                "pattern": "^\\d{17}[\\dX]$",
                "x-hf-messages": {
                    "pattern": "请填写18位公民身份号码，末位可为 X",
                    "required": "请填写身份证上的号码",
                },
            }
        },
        "required": ["id_number"],
    }
    assert refused(schema, {"id_number": "123"}) == [("/id_number", "请填写18位公民身份号码，末位可为 X")]
    assert refused(schema, {}) == [("/id_number", "请填写身份证上的号码")]


def test_a_field_required_twice_is_named_once() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "title": "姓名"}},
        "required": ["name"],
        "allOf": [{"required": ["name"]}, {"$ref": "#/$defs/named"}],
        "$defs": {"named": {"required": ["name"]}},
    }
    assert refused(schema, {}) == [("/name", "请填写姓名")]


def test_the_number_of_field_errors_is_bounded() -> None:
    schema = {"type": "object", "additionalProperties": False}
    got = refused(schema, {f"k{i}": i for i in range(500)})
    assert len(got) == MAX_FIELD_ERRORS + 1
    assert got[-1] == ("/", f"另有 {500 - MAX_FIELD_ERRORS} 处填写有误，请更正以上各项后重新提交")


def test_a_definition_checks_data_without_a_session() -> None:
    """What the engine can run before its write transaction: the stored definition alone."""
    bpmn = (REVIEW_LIB / "processes" / "review.bpmn").read_text(encoding="utf-8")
    forms = {
        "review/accept": json.loads(
            (REVIEW_LIB / "forms" / "review" / "accept.schema.json").read_text("utf-8")
        )
    }
    definition = load_definition(1, "review", 1, "review.bpmn", bpmn, json.dumps(forms, ensure_ascii=False))
    definition.check_data("accept", ACCEPT)
    with pytest.raises(FormDataError) as info:
        definition.check_data("accept", {})
    assert [f.message for f in info.value.fields] == ["请填写企业名称", "请填写注册资本（万元）"]


def test_the_cli_prints_the_chinese_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    with simulation(url, REVIEW_LIB / "processes", START) as (engine, _):
        case = engine.start_case("review")
        [task] = engine.tasks(case=case.id)
    now = START.isoformat()
    rc, out, err = run_cli(url, capsys, "task", "complete", task.id, "--data", '{"capital": "多"}', now=now)
    assert rc == 2 and out == ""
    assert "/enterprise_name：请填写企业名称" in err and "/capital：注册资本（万元）应为整数" in err
    assert "Traceback" not in err and "is a required property" not in err
