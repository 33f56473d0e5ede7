"""The HTML fragment of a step's form (issue 9): labels, required marks, controls, checklist, escaping.

Expectations are computed from the JSON Schema and from the 五个一律 audit's report, never from the
renderer's own view model, and the fragment is read back with lxml's HTML parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from lxml import html

from helpers import FORMS, PROCESSES, WALKS
from hennan_flow.audit import MaterialVerdict, audit_paths
from hennan_flow.bpmn.bundle import Bundle, Step
from hennan_flow.bpmn.dialect import load_document
from hennan_flow.errors import ConfigError, FieldError, FormDataError
from hennan_flow.stepforms.data import check_form_data
from hennan_flow.stepforms.render import checklist_for, html_pattern, render_form

EVIL = "<script>alert(1)</script>"
EVIL_ATTR = '"><img src=x onerror=alert(1)>'

# One step per bundle: each shows kept materials and materials the applicant is not asked for.
SHOWCASE = {
    "enterprise_opening": "register",  # e-licences, a commitment, a tolerable material; enum; long text
    "enterprise_deregistration": "ordinary_cancellation",  # kept, generated (清税证明); boolean; dates
    "newborn": "household_registration",  # passed inside the case (出生医学证明), e-licences, a dated one kept; enum
    "after_death": "estate_inheritance",  # e-licence, generated, kept
    "construction_project": "construction_permit",  # commitments, generated, kept
    "restaurant_opening": "fire_safety_check",  # a commitment; kept forms and plans
}
# the issue 26 bundles (no kept material to show): their first step, for the read-only rendering
FIRST_STEPS = {
    "information_disclosure": "register",
    "hotline_work_order": "accept",
    "cross_region_intake": "intake",
}


def _bundle(key: str) -> Bundle:
    doc = load_document(PROCESSES / f"{key}.bpmn", display=f"processes/{key}.bpmn")
    return next(b for b in doc.bundles if b.key == key)


def _schema(step: Step) -> dict[str, Any] | None:
    if step.form is None:
        return None
    data: dict[str, Any] = json.loads((FORMS / f"{step.form}.schema.json").read_text(encoding="utf-8"))
    return data


_VERDICTS: dict[str, tuple[MaterialVerdict, ...]] = {}


def _verdicts(key: str) -> tuple[MaterialVerdict, ...]:
    if key not in _VERDICTS:
        report = audit_paths([str(PROCESSES / f"{key}.bpmn")])
        _VERDICTS[key] = next(b for b in report.bundles if b.key == key).materials
    return _VERDICTS[key]


def _render(key: str, step_id: str, **kwargs: Any) -> tuple[str, html.HtmlElement, dict[str, Any]]:
    bundle = _bundle(key)
    step = bundle.step(step_id)
    assert step is not None
    schema = _schema(step)
    assert schema is not None
    kwargs.setdefault("verdicts", _verdicts(key))
    text = render_form(schema=schema, step=step, bundle=bundle, **kwargs)
    return text, html.fragment_fromstring(text), schema


ALL_STEPS = [(key, s.id) for key in sorted(WALKS) for s in _bundle(key).steps if s.form]


def _text(el: html.HtmlElement) -> str:
    return re.sub(r"\s+", "", el.text_content())


def _label_text(label: html.HtmlElement) -> str:
    """A label's visible text without the required mark and the screen-reader-only note."""
    clone = html.fragment_fromstring(html.tostring(label, encoding="unicode"))
    for mark in clone.xpath(".//*[contains(@class,'hf-required') or contains(@class,'hf-visually-hidden')]"):
        mark.drop_tree()
    return _text(clone)


def _is_marked(label: html.HtmlElement) -> bool:
    return bool(label.xpath(".//*[contains(concat(' ', @class, ' '), ' hf-required ')]"))


# -- controls and labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "step_id"), ALL_STEPS, ids=[f"{k}-{s}" for k, s in ALL_STEPS])
def test_every_property_has_its_labelled_control(key: str, step_id: str) -> None:
    _, root, schema = _render(key, step_id, data=WALKS[key]["step_data"].get(step_id), task_id="t1")
    required = set(schema.get("required", ()))
    for name, prop in schema["properties"].items():
        title = prop["title"]
        controls = root.xpath(f"//*[@name='{name}']")
        assert controls, f"{step_id}: no control named {name!r}"
        items = prop.get("items") or {}
        if prop.get("type") == "array" and "enum" in items:
            [group] = root.xpath(f"//fieldset[@data-hf-name='{name}']")
            assert _label_text(group.find("legend")) == title
            assert [c.get("value") for c in controls] == items["enum"]
            for box in controls:
                assert box.get("type") == "checkbox"
                assert root.xpath(f"//label[@for='{box.get('id')}']")[0].text_content() == box.get("value")
            assert _is_marked(group.find("legend")) == (name in required and prop.get("minItems", 0) > 0)
            continue
        [control] = controls
        [label] = root.xpath(f"//label[@for='{control.get('id')}']")
        assert _label_text(label) == title
        if prop.get("type") == "boolean":
            assert control.tag == "input" and control.get("type") == "checkbox"
            assert control.get("required") is None  # an unticked box is an answer (false)
            continue
        if "enum" in prop:
            assert control.tag == "select"
            assert [o.get("value") for o in control.xpath("option")] == ["", *prop["enum"]]
        elif "oneOf" in prop:  # choices with Chinese labels: the applicant never reads the code value
            assert control.tag == "select"
            options = [(o.get("value"), o.text_content()) for o in control.xpath("option")][1:]
            assert options == [(m["const"], m["title"]) for m in prop["oneOf"]]
        elif prop.get("type") in {"integer", "number"}:
            assert control.get("type") == "number"
            assert control.get("step") == ("1" if prop["type"] == "integer" else "any")
            if "minimum" in prop:
                assert float(control.get("min")) == prop["minimum"]
            if "maximum" in prop:
                assert float(control.get("max")) == prop["maximum"]
        elif prop.get("format") == "date":
            assert control.get("type") == "date"
        elif prop.get("format") == "date-time":
            assert control.get("type") == "datetime-local"
        elif prop.get("maxLength", 0) > 150:
            assert control.tag == "textarea"
        else:
            assert control.tag == "input" and control.get("type") == "text"
            if "maxLength" in prop:
                assert control.get("maxlength") == str(prop["maxLength"])
        is_required = name in required and not prop.get("readOnly")  # the department fills a read-only field
        assert (control.get("required") is not None) == is_required, name
        assert (control.get("aria-required") == "true") == is_required, name
        assert _is_marked(label) == is_required, name
        if "description" in prop:
            described = control.get("aria-describedby", "").split()
            assert any(prop["description"] in _node_text(root, i) for i in described), name


def _node_text(root: html.HtmlElement, element_id: str) -> str:
    found = root.xpath(f"//*[@id='{element_id}']")
    return found[0].text_content() if found else ""


@pytest.mark.parametrize(("key", "step_id"), ALL_STEPS, ids=[f"{k}-{s}" for k, s in ALL_STEPS])
def test_ids_are_unique_and_prefixed_by_the_task(key: str, step_id: str) -> None:
    _, one, _ = _render(key, step_id, task_id="task-a")
    _, two, _ = _render(key, step_id, task_id="task-b")
    ids_one = [el.get("id") for el in one.xpath("//*[@id]")]
    ids_two = [el.get("id") for el in two.xpath("//*[@id]")]
    assert len(ids_one) == len(set(ids_one))
    assert not set(ids_one) & set(ids_two), "two forms on one page would share element ids"
    for el in one.xpath("//*[@aria-describedby or @aria-labelledby or @for]"):
        for ref in (el.get("aria-describedby") or el.get("aria-labelledby") or el.get("for") or "").split():
            assert ref in ids_one, f"{el.tag} points at a missing id {ref!r}"


@pytest.mark.parametrize("key", sorted(SHOWCASE))
def test_prefilled_values_come_from_earlier_data(key: str) -> None:
    step_id = SHOWCASE[key]
    data = dict(WALKS[key]["step_data"][step_id])
    data["not_a_field_of_this_form"] = "不显示"
    text, root, schema = _render(key, step_id, data=data)
    assert "不显示" not in text
    for name, value in WALKS[key]["step_data"][step_id].items():
        prop = schema["properties"][name]
        if isinstance(value, bool):
            assert (root.xpath(f"//input[@name='{name}']")[0].get("checked") is not None) == value
        elif isinstance(value, list):
            ticked = [c.get("value") for c in root.xpath(f"//input[@name='{name}'][@checked]")]
            assert ticked == [v for v in prop["items"]["enum"] if v in value]
        elif "enum" in prop or "oneOf" in prop:  # a code list (oneOf of const with titles) is a select too
            assert root.xpath(f"//select[@name='{name}']/option[@selected]/@value") == [value]
        else:
            [control] = root.xpath(f"//*[@name='{name}']")
            shown = control.text_content() if control.tag == "textarea" else control.get("value")
            assert shown == (str(value) if not isinstance(value, float) else f"{value:g}")


def test_date_time_values_are_shown_in_beijing_time() -> None:
    bundle = _bundle("newborn")
    step = bundle.step("birth_certificate")
    assert step is not None
    for given in ("2026-03-02T08:15:00+08:00", "2026-03-02T00:15:00Z"):
        root = html.fragment_fromstring(
            render_form(
                schema=_schema(step), step=step, bundle=bundle, data={"birth_datetime": given}, verdicts=()
            )
        )
        [control] = root.xpath("//input[@name='birth_datetime']")
        assert control.get("type") == "datetime-local"
        assert control.get("value") == "2026-03-02T08:15:00"
        assert control.get("data-hf-format") == "date-time"


def test_read_only_fields_are_shown_as_filled_by_the_department() -> None:
    bundle = _bundle("enterprise_opening")
    step = bundle.step("register")
    assert step is not None
    schema = _schema(step)
    assert schema is not None
    schema["properties"]["credit_code"]["readOnly"] = True
    root = html.fragment_fromstring(
        render_form(
            schema=schema, step=step, bundle=bundle, data={"credit_code": "91430422MA4T8X2K3N"}, verdicts=()
        )
    )
    [control] = root.xpath("//input[@name='credit_code']")
    assert control.get("readonly") is not None and control.get("aria-readonly") == "true"
    assert control.get("required") is None and control.get("value") == "91430422MA4T8X2K3N"
    assert not _is_marked(root.xpath(f"//label[@for='{control.get('id')}']")[0])
    assert "由办理部门填写" in _node_text(root, f"{control.get('id')}-desc")


def test_a_step_without_a_form_renders_its_checklist_and_no_fields() -> None:
    bundle = _bundle("newborn")
    step = bundle.step("social_security_card")
    assert step is not None
    root = html.fragment_fromstring(
        render_form(schema=None, step=step, bundle=bundle, verdicts=_verdicts("newborn"))
    )
    assert root.xpath("//form//*[@name]") == []
    assert "本环节无需填写表单" in root.text_content()
    assert {li.get("data-hf-material") for li in root.xpath("//ul[@class='hf-waived']/li")} == {
        m.id for m in step.materials
    }


# -- the material checklist ------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SHOWCASE))
def test_the_checklist_lists_exactly_the_kept_materials_and_notes_the_others(key: str) -> None:
    step_id = SHOWCASE[key]
    _, root, _ = _render(key, step_id)
    mine = [v for v in _verdicts(key) if v.step == step_id]
    kept = [v.material for v in mine if v.verdict == "keep"]
    assert kept, f"pick a showcase step with kept materials for {key}"
    [aside] = root.xpath("//aside[contains(@class,'hf-checklist')]")
    listed = aside.xpath(".//ul[contains(@class,'hf-keep')]/li")
    assert [li.get("data-hf-material") for li in listed] == kept
    for li, v in zip(listed, (v for v in mine if v.verdict == "keep"), strict=True):
        assert v.name in li.text_content()
    waived = {li.get("data-hf-material"): li for li in aside.xpath(".//ul[contains(@class,'hf-waived')]/li")}
    expected = {v.material: v for v in mine if v.verdict in {"exempt", "generated", "cancel", "online_form"}}
    assert set(waived) == set(expected)
    assert set(waived), f"pick a showcase step with exempt or generated materials for {key}"
    step = _bundle(key).step(step_id)
    assert step is not None
    for material_id, v in expected.items():
        li = waived[material_id]
        kind = li.get("data-hf-waived")
        reason = li.text_content()
        if v.verdict == "generated":
            producer = _bundle(key).step(v.produced_by or "")
            assert kind == "generated" and producer is not None and producer.name in reason
        elif v.verdict == "online_form":  # the form on this very page collects it (DESIGN §12)
            assert kind == "online_form" and "在线填写" in reason
        elif v.exempt_by == "commitment":
            assert kind == "commitment" and "承诺" in reason
        else:
            material = next(m for m in step.materials if m.id == material_id)
            assert kind == "e_license" and material.e_license and material.e_license in reason
    # nothing of another step leaks in
    others = {v.material for v in _verdicts(key) if v.step != step_id}
    assert not others & {li.get("data-hf-material") for li in aside.xpath(".//li")}


def test_tolerable_materials_say_when_to_supply_them() -> None:
    _, root, _ = _render("enterprise_opening", "register")
    [li] = root.xpath("//li[@data-hf-material='officer_appointment']")
    assert "容缺后补" in li.text_content() and "1个工作日内补交" in li.text_content()


def test_without_verdicts_the_bundle_is_audited() -> None:
    bundle = _bundle("newborn")
    step = bundle.step("medical_insurance_enrol")
    assert step is not None
    given = render_form(schema=_schema(step), step=step, bundle=bundle, verdicts=_verdicts("newborn"))
    assert render_form(schema=_schema(step), step=step, bundle=bundle) == given


def test_checklist_for_ignores_other_steps_and_notes_cancelled_materials() -> None:
    bundle = _bundle("enterprise_opening")
    step = bundle.step("register")
    assert step is not None
    verdicts = list(_verdicts("enterprise_opening"))
    cancelled = replace(
        next(v for v in verdicts if v.material == "articles_of_association"), verdict="cancel"
    )
    verdicts = [cancelled if v.material == cancelled.material else v for v in verdicts]
    checklist = checklist_for(step, bundle, verdicts)
    assert "articles_of_association" not in [m.id for m in checklist.keep]
    [note] = [w for w in checklist.waived if w.id == "articles_of_association"]
    assert note.kind == "cancelled" and "五个一律" in note.reason
    assert {m.id for m in checklist.keep} | {w.id for w in checklist.waived} == {m.id for m in step.materials}


# -- escaping and the fragment -------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SHOWCASE))
def test_user_data_is_escaped(key: str) -> None:
    step_id = SHOWCASE[key]
    step = _bundle(key).step(step_id)
    assert step is not None
    schema = _schema(step)
    assert schema is not None
    data = {name: EVIL for name in schema["properties"]}
    first = next(iter(schema["properties"]))
    data[first] = EVIL_ATTR
    errors = (FieldError(f"/{first}", EVIL), FieldError("/", EVIL_ATTR))
    text, root, _ = _render(key, step_id, data=data, errors=errors, task_id='x"><script>alert(2)</script>')
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert root.xpath("//script | //img") == []
    strings = [n for n, p in schema["properties"].items() if p.get("type") == "string" and "enum" not in p]
    for name in strings:
        [control] = root.xpath(f"//*[@name='{name}']")
        shown = control.text_content() if control.tag == "textarea" else control.get("value")
        expected = EVIL_ATTR if name == first else EVIL
        if control.get("type") in {"date", "datetime-local"}:
            assert shown in {expected, ""}
        else:
            assert shown == expected  # escaped on the way out, intact on the way back in
    assert EVIL in root.xpath("string(//*[@role='alert'])")


def test_names_from_the_bundle_are_escaped_too() -> None:
    bundle = _bundle("enterprise_opening")
    step = bundle.step("register")
    assert step is not None
    evil_step = replace(step, name=EVIL, result=EVIL_ATTR)
    evil_bundle = replace(
        bundle, name=EVIL, steps=tuple(evil_step if s.id == "register" else s for s in bundle.steps)
    )
    schema = _schema(step)
    assert schema is not None
    schema = {**schema, "title": EVIL, "description": EVIL}
    text = render_form(
        schema=schema, step=evil_step, bundle=evil_bundle, verdicts=_verdicts("enterprise_opening")
    )
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert html.fragment_fromstring(text).xpath("//script | //img") == []


@pytest.mark.parametrize("key", sorted(SHOWCASE))
def test_the_fragment_embeds_with_one_scoped_style_block(key: str) -> None:
    text, root, _ = _render(key, SHOWCASE[key], task_id="t1")
    assert not re.search(r"<(html|head|body|script|link|iframe)\b", text, re.IGNORECASE)
    assert root.tag == "section" and "hf-form" in root.get("class", "").split()
    styles = root.xpath("//style")
    assert len(styles) == 1
    css = re.sub(r"/\*.*?\*/", "", styles[0].text_content(), flags=re.DOTALL)
    for selector_list in re.findall(r"([^{}]+)\{[^{}]*\}", css):
        if selector_list.strip().startswith("@"):
            continue
        for selector in selector_list.split(","):
            assert selector.strip().startswith(".hf-form"), f"unscoped CSS selector {selector.strip()!r}"
    assert "url(" not in css and "@import" not in css


def test_the_action_url_is_relative_or_http() -> None:
    _, root, _ = _render("newborn", "medical_insurance_enrol", action="/tasks/t1/complete?next=a&b=c")
    assert root.xpath("//form/@action") == ["/tasks/t1/complete?next=a&b=c"]
    _, root, _ = _render("newborn", "medical_insurance_enrol")
    assert root.xpath("//form/@action") == []
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x"):
        with pytest.raises(ConfigError):
            _render("newborn", "medical_insurance_enrol", action=bad)


def test_a_csp_nonce_goes_on_the_style_block() -> None:
    _, root, _ = _render("newborn", "medical_insurance_enrol", nonce="r4nd0m")
    assert root.xpath("//style/@nonce") == ["r4nd0m"]


def test_field_errors_are_tied_to_their_fields() -> None:
    errors = (
        FieldError("/company_name", "请填写企业名称"),
        FieldError("/seal_types", "“seal_types”不是本表单的字段"),
    )
    _, root, _ = _render("enterprise_opening", "register", errors=errors)
    [control] = root.xpath("//input[@name='company_name']")
    assert control.get("aria-invalid") == "true"
    error_id = next(i for i in control.get("aria-describedby").split() if i.endswith("-error"))
    assert _node_text(root, error_id) == "请填写企业名称"
    [summary] = root.xpath("//*[@role='alert']")
    # the message names its field: the same words in the summary and at the field, said once each
    assert [(a.get("href"), a.text_content()) for a in summary.xpath(".//a")] == [
        (f"#{control.get('id')}", "请填写企业名称")
    ]
    assert "“seal_types”不是本表单的字段" in summary.text_content()  # a field this form does not have
    assert root.xpath("//input[@name='company_type'][@aria-invalid]") == []


def test_the_messages_of_a_refused_submission_render_at_their_fields() -> None:
    """What check_form_data says about {} is what the applicant reads: once per field, in Chinese."""
    _, _, schema = _render("enterprise_opening", "register")
    with pytest.raises(FormDataError) as info:
        check_form_data(schema, {"surprise": 1}, step="register", form="enterprise_opening/register")
    _, root, _ = _render("enterprise_opening", "register", errors=info.value.fields)
    [summary] = root.xpath("//*[@role='alert']")
    items = [li.text_content() for li in summary.xpath(".//li")]
    titles = [p["title"] for n, p in schema["properties"].items() if n in schema["required"]]
    assert sorted(items) == sorted([f"请填写{t}" for t in titles] + ["“surprise”不是本表单的字段"])
    for name in schema["required"]:
        [control] = root.xpath(f"//*[@name='{name}']")
        assert control.get("aria-invalid") == "true"


@pytest.mark.parametrize("key", sorted(WALKS))
def test_a_completed_step_renders_read_only_without_a_submit_button(key: str) -> None:
    step_id = SHOWCASE.get(key) or FIRST_STEPS[key]
    data = WALKS[key]["step_data"][step_id]
    _, root, schema = _render(key, step_id, data=data, task_id="t1", readonly=True, action="/done")
    assert root.xpath("//button") == [] and root.xpath("//form") == []
    assert root.xpath("//*[@type='submit']") == []
    assert "本环节已办结" in _text(root)
    assert root.xpath("//*[@required]") == [] and root.xpath("//*[contains(@class, 'hf-required')]") == []
    for name in schema["properties"]:
        for control in root.xpath(f"//*[@name='{name}']"):
            if control.tag == "select" or control.get("type") == "checkbox":
                assert control.get("disabled") is not None or control.xpath("ancestor::fieldset[@disabled]")
            else:
                assert control.get("readonly") is not None and control.get("aria-readonly") == "true"
    # the values it took are shown
    for name, value in data.items():
        if isinstance(value, str) and schema["properties"].get(name, {}).get("type") == "string":
            controls = root.xpath(f"//*[@name='{name}']")
            shown = [c.get("value") or c.text_content() for c in controls]
            shown += [o.get("value") for c in controls for o in c.xpath("option[@selected]")]
            assert any(value in (v or "") for v in shown) or schema["properties"][name].get("format"), name
    # the same step, still open: a form with a submit button
    _, open_root, _ = _render(key, step_id, data=data, task_id="t1", action="/done")
    assert len(open_root.xpath("//form//button[@type='submit']")) == 1


def test_designer_notes_never_reach_the_applicant() -> None:
    bundle = _bundle("enterprise_deregistration")
    step = bundle.step("dereg_accept")
    assert step is not None
    schema = _schema(step)
    assert schema is not None
    schema["$comment"] = "COMMENT-FOR-DESIGNERS"
    schema["properties"]["company_name"]["x-hf-designer-note"] = "NOTE-FOR-DESIGNERS"
    schema["properties"]["company_name"]["$comment"] = "COMMENT-ON-A-FIELD"
    text = render_form(schema=schema, step=step, bundle=bundle, verdicts=())
    for note in ("COMMENT-FOR-DESIGNERS", "NOTE-FOR-DESIGNERS", "COMMENT-ON-A-FIELD"):
        assert note not in text
    assert schema["x-hf-designer-note"] not in text  # the shipped note on the dereg_type gateway
    # the choice is offered with its Chinese labels, never the code values the gateway reads
    root = html.fragment_fromstring(text)
    [select] = root.xpath("//select[@name='dereg_type']")
    assert [o.text_content() for o in select.xpath("option")][1:] == [
        m["title"] for m in schema["properties"]["dereg_type"]["oneOf"]
    ]


@pytest.mark.parametrize(("key", "step_id"), ALL_STEPS, ids=[f"{k}-{s}" for k, s in ALL_STEPS])
def test_no_shipped_form_shows_a_designer_note(key: str, step_id: str) -> None:
    _, root, _ = _render(key, step_id)
    for style in root.xpath("//style"):
        style.drop_tree()
    shown = _text(root)
    for word in ("网关", "分支", "走向", "_type", "true", "false"):
        assert word not in shown, f"{step_id}: {word!r} in what the applicant reads"


def test_step_heading_shows_department_limits_and_special_procedures() -> None:
    _, root, _ = _render("enterprise_deregistration", "simple_publicity")
    heading = _text(root.xpath("//header")[0])
    assert "衡南县市场监督管理局" in heading
    assert "承诺1个工作日" in heading and "法定3个工作日" in heading
    assert "公示（20日（自然日），不计入办理时限）" in heading
    _, root, _ = _render("enterprise_deregistration", "dereg_accept")
    assert "即办件" in _text(root.xpath("//header")[0])


# -- patterns ---------------------------------------------------------------------------------------

FORM_PATTERNS = sorted(
    {
        prop["pattern"]
        for path in FORMS.glob("*/*.schema.json")
        for prop in json.loads(path.read_text(encoding="utf-8"))["properties"].values()
        if "pattern" in prop
    }
)


def test_every_form_pattern_is_carried_over() -> None:
    for pattern in FORM_PATTERNS:
        assert html_pattern(pattern) is not None, pattern


def test_class_syntax_is_escaped_for_unicode_sets_mode() -> None:
    assert html_pattern(r"^[0-9A-Za-z\u4e00-\u9fa5〔〕\[\]（）()第号-]{1,40}$") == (
        r"^[0-9A-Za-z\u4e00-\u9fa5〔〕\[\]（）\(\)第号\-]{1,40}$"
    )
    assert html_pattern(r"^[!-~]+$") == r"^[\!-\~]+$"
    assert html_pattern(r"^[-a]$") == r"^[\-a]$"
    assert html_pattern(r"^\d+\-\d$") == r"^\d+-\d$"  # `\-` outside a class is an error in `v` mode


def test_unanchored_patterns_match_anywhere_like_json_schema() -> None:
    assert html_pattern("abc") == r"[\s\S]*(?:abc)[\s\S]*"
    assert html_pattern("^a|b$") == r"[\s\S]*(?:^a|b$)[\s\S]*"
    assert html_pattern("^abc$") == "^abc$"


@pytest.mark.parametrize("pattern", [r"(?P<x>a)", r"(?i)abc", r"[\d-x]", r"a{2", r"\Aabc\Z", r"[abc"])
def test_python_only_syntax_is_left_out(pattern: str) -> None:
    assert html_pattern(pattern) is None


def test_carried_patterns_accept_what_the_schema_accepts() -> None:
    samples = [
        "（衡南）登记企销字〔2026〕第0123号",
        "abc-12",
        "a(b)",
        "[x]",
        "13807340001",
        "91430422MA4T8X2K3N",
        "430422199001011234",
        "2026-03",
        "x y",
        "",
        "a|b",
    ]
    for step_data in (d for bundle in WALKS.values() for d in bundle["step_data"].values()):
        samples.extend(v for v in step_data.values() if isinstance(v, str))
    for pattern in [*FORM_PATTERNS, "abc", "^a|b$", r"[\w.-]+@x", r"^[!-~]+$"]:
        carried = html_pattern(pattern)
        assert carried is not None
        for value in samples:
            assert (re.fullmatch(carried, value) is not None) == (re.search(pattern, value) is not None), (
                pattern,
                value,
            )
