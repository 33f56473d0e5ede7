"""A step's form as an accessible HTML fragment that portals embed (Jinja2, autoescaped).

Usage::

    from hennan_flow.stepforms.render import render_form
    html = render_form(schema=definition.form_of("register"), step=bundle.step("register"),
                       bundle=bundle, data=engine.case_data(case_id), task_id=task.id)

The fragment is one ``<section class="hf-form">`` (no ``<html>``, no script, no external resource):
its own ``<style>`` block, every rule scoped under ``.hf-form``; the step's heading (department,
time limits, result); the form built from the step's JSON Schema (Chinese labels from the ``title``
of each property, required marks, one control per property, descriptions tied with
``aria-describedby``, field errors of a refused submission tied with ``aria-invalid``); and beside it
the applicant's material checklist for this step after the 五个一律 audit (the materials kept) with
a note for every material the applicant is not asked for (e-licence, commitment, passed inside the
case, cancelled) saying why.

Controls, from the schema of each property:

==========================================  ====================================================
``string``                                  ``<input type="text">`` (``<textarea>`` when
                                            ``maxLength`` > 150); ``format`` date → ``date``,
                                            date-time → ``datetime-local`` (Beijing time),
                                            time, email → ``email``, uri → ``url``
``integer`` / ``number``                    ``<input type="number">`` (step 1 / any), min, max
``boolean``                                 a checkbox (unticked = false, so never ``required``)
``readOnly: true``                          shown, not editable, noted 由办理部门填写 (results)
``enum`` or ``oneOf`` of ``const``          ``<select>`` (option labels from ``title``)
``array`` of ``enum`` items                 checkboxes in a ``<fieldset>`` with a ``<legend>``
anything else                               a ``<textarea>`` for JSON
==========================================  ====================================================

Every control carries ``name`` (the property), ``data-hf-type`` (the JSON type) and, where given,
``data-hf-format``, so a portal can serialise the form back to the JSON object the step expects.
``pattern`` is rewritten for the HTML attribute (full match, Unicode-sets mode) or left out when it
cannot be carried over; the server validates every submission anyway (``stepforms.data.check_form_data``).

What the applicant reads comes from ``title`` and ``description`` only: notes for designers go in
``x-hf-designer-note`` (or ``$comment``) and are never drawn. A completed step renders with
``readonly=True``: the values it took, nothing to edit or submit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Template

from ..bpmn.bundle import PROCEDURE_NAMES, Bundle, Material, Step, TimeLimit
from ..clock.instants import SHANGHAI
from ..errors import ConfigError, FieldError
from ..report.templating import environment

if TYPE_CHECKING:
    from ..audit import MaterialVerdict

__all__ = [
    "Checklist",
    "ChecklistItem",
    "FormField",
    "Option",
    "WaivedItem",
    "checklist_for",
    "form_fields",
    "html_pattern",
    "render_form",
]

TEMPLATE = "form.html.j2"
_TEXTAREA_OVER = 150

Control = Literal["input", "textarea", "select", "checkbox", "checkboxes", "json"]
WaivedKind = Literal["e_license", "online_check", "commitment", "generated", "cancelled", "online_form"]

_NECESSITY = {"required": "必交", "optional": "如有则交", "tolerable": "容缺后补"}
_UNIT = {"workday": "个工作日", "natural_day": "日（自然日）", "hour": "小时"}
_INPUT_FORMAT = {
    "date": "date",
    "date-time": "datetime-local",
    "time": "time",
    "email": "email",
    "uri": "url",
    "iri": "url",
}


# -- the view model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One choice of a select or of a checkbox group."""

    value: str
    label: str
    selected: bool = False
    id: str = ""


@dataclass(frozen=True)
class FormField:
    """One schema property as the template draws it."""

    name: str
    id: str
    label: str
    control: Control
    json_type: str
    required: bool = False
    input_type: str = "text"
    format: str | None = None
    description: str | None = None
    value: str = ""
    checked: bool = False
    options: tuple[Option, ...] = ()
    attrs: tuple[tuple[str, str], ...] = ()  # extra HTML attributes: min, max, step, minlength, pattern…
    error: str | None = None
    read_only: bool = False  # JSON Schema `readOnly`: filled by the department, shown but not editable

    @property
    def anchor(self) -> str:
        """The element id an error summary links to (the first box of a checkbox group)."""
        return self.options[0].id if self.control == "checkboxes" and self.options else self.id

    @property
    def described_by(self) -> str:
        ids = [f"{self.id}-desc"] if self.description else []
        if self.error:
            ids.append(f"{self.id}-error")
        return " ".join(ids)


@dataclass(frozen=True)
class ChecklistItem:
    """A material the applicant still brings for this step (audit verdict keep)."""

    id: str
    name: str
    necessity: str
    necessity_label: str
    issuer: str | None = None
    supplement_within: int | None = None
    bases: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaivedItem:
    """A material of this step the applicant is not asked for, and why."""

    id: str
    name: str
    kind: WaivedKind
    reason: str


@dataclass(frozen=True)
class Checklist:
    """The applicant's side of one step: what to bring, and what not (with the reason)."""

    keep: tuple[ChecklistItem, ...]
    waived: tuple[WaivedItem, ...]


# -- public entry point ------------------------------------------------------------------------
def render_form(
    *,
    schema: Mapping[str, Any] | None,
    step: Step,
    bundle: Bundle,
    verdicts: Sequence[MaterialVerdict] | None = None,
    data: Mapping[str, Any] | None = None,
    task_id: str | None = None,
    errors: Sequence[FieldError] = (),
    action: str | None = None,
    nonce: str | None = None,
    readonly: bool = False,
    notice: Mapping[str, Any] | None = None,
) -> str:
    """The HTML fragment of one step's form with the applicant's material checklist beside it.

    Parameters:
        schema: the step's JSON Schema (`LoadedDefinition.form_of(step.id)`); None draws no fields.
        step, bundle: the step and its bundle (for the heading, the materials, the department).
        verdicts: the audit's verdicts (`BundleAudit.materials`; those of other steps are ignored).
            None audits the bundle with the packaged catalogue.
        data: earlier data of the case (`Engine.case_data`): the fields of this form it holds are
            prefilled; everything else in it is ignored.
        task_id: makes the element ids unique on a page that embeds several forms.
        errors: the field errors of a refused submission (`FormDataError.fields`), shown at the fields.
        action: the form's `action` URL, relative or http(s) (none: the portal handles submission);
            any other scheme (`javascript:` …) raises `ConfigError`.
        nonce: a CSP nonce for the fragment's `<style>` element.
        readonly: the step is completed: the submitted values are shown and cannot be changed (a
            group instead of a `<form>`, text fields `readonly`, choices `disabled`, no required
            marks, no submit button, a note saying the step is done).
        notice: the 一次性告知 of the step's open supplement (补正) pause: `notice` (text) and
            `materials` (ids of the step's materials, shown by name).

    Every value is HTML-escaped (autoescape on); the result never contains a `<script>`.
    """
    if (
        action is not None
        and re.match(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:", action)
        and not re.match(r"^https?:", action, re.IGNORECASE)
    ):
        raise ConfigError(f"表单的 action {action!r} 既不是相对地址，也不是 http(s) 地址")
    if verdicts is None:
        verdicts = _audit(bundle)
    uid = _slug(task_id or step.id)
    fields = form_fields(schema, data=data, id_prefix=uid, errors=errors)
    form_errors = tuple(e.message for e in errors if _field_of(e) not in {f.name for f in fields})
    department = bundle.department(step.department) if step.department else None
    template = _template()
    return template.render(
        uid=uid,
        bundle=bundle,
        step=step,
        task_id=task_id,
        form_ref=step.form,
        title=(schema or {}).get("title") or step.name,
        form_description=(schema or {}).get("description"),
        department=department.name if department else step.department,
        limit=_limit_text(step.time_limit, step.kind),
        procedures=tuple(
            f"{PROCEDURE_NAMES.get(p.kind, p.kind)}（{p.limit}{_UNIT.get(p.unit, p.unit)}，不计入办理时限）"
            for p in step.special_procedures
        ),
        fields=fields,
        any_required=any(f.required for f in fields),
        field_errors=tuple(f for f in fields if f.error),
        form_errors=form_errors,
        checklist=checklist_for(step, bundle, verdicts),
        action=action,
        nonce=nonce,
        readonly=readonly,
        notice=_notice(step, notice),
    )


def _notice(step: Step, notice: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the applicant reads of a supplement's 一次性告知: its text and the materials by name."""
    if not notice or not (notice.get("notice") or notice.get("materials")):
        return None
    names = {m.id: m.name for m in step.materials}
    return {
        "text": notice.get("notice"),
        "materials": [names.get(m, m) for m in notice.get("materials") or ()],
    }


# -- the form fields -----------------------------------------------------------------------------
def form_fields(
    schema: Mapping[str, Any] | None,
    *,
    data: Mapping[str, Any] | None = None,
    id_prefix: str = "hf",
    errors: Sequence[FieldError] = (),
) -> tuple[FormField, ...]:
    """One `FormField` per property of the schema, in the schema's order, prefilled from `data`."""
    if not schema:
        return ()
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ()
    required = set(schema.get("required") or ())
    by_field: dict[str, list[str]] = {}
    for e in errors:
        by_field.setdefault(_field_of(e), []).append(e.message)
    values = data or {}
    out = []
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        field_id = f"hf-{id_prefix}-{_slug(name)}"
        message = "；".join(by_field.get(name, ())) or None
        out.append(
            _field(str(name), prop, field_id, name in required, values.get(name), message, name in values)
        )
    return tuple(out)


def _field(
    name: str,
    prop: Mapping[str, Any],
    field_id: str,
    required: bool,
    value: Any,
    error: str | None,
    present: bool,
) -> FormField:
    json_type = prop.get("type")
    json_type = json_type if isinstance(json_type, str) else "string"
    fmt = prop.get("format") if isinstance(prop.get("format"), str) else None
    description = str(prop["description"]) if prop.get("description") else None
    read_only = prop.get("readOnly") is True
    if fmt == "date-time" and json_type == "string":
        description = "；".join(filter(None, (description, "按北京时间填写")))
    if read_only:
        description = "；".join(filter(None, (description, "由办理部门填写")))
    common: dict[str, Any] = {
        "name": name,
        "id": field_id,
        "label": str(prop.get("title") or name),
        "json_type": json_type,
        "description": description,
        "error": error,
        "format": fmt,
        "read_only": read_only,
    }
    choices = _choices(prop)
    if json_type == "array":
        items = prop.get("items")
        item_choices = _choices(items) if isinstance(items, Mapping) else None
        if item_choices is not None:
            picked = {_json_text(v) for v in value} if isinstance(value, list) else set()
            options = tuple(
                Option(text, label, text in picked, f"{field_id}-{i}")
                for i, (text, label) in enumerate(item_choices)
            )
            return FormField(
                **common,
                control="checkboxes",
                required=required and int(prop.get("minItems") or 0) > 0,
                options=options,
            )
    if choices is not None:
        current = _json_text(value) if present else None
        options = tuple(Option(text, label, text == current) for text, label in choices)
        return FormField(**common, control="select", required=required, options=options)
    if json_type == "boolean":
        return FormField(**common, control="checkbox", checked=value is True)
    if json_type in {"integer", "number"}:
        attrs = [("step", "1" if json_type == "integer" else "any")]
        if json_type == "integer":
            attrs.append(("inputmode", "numeric"))
        if isinstance(prop.get("multipleOf"), int | float) and not isinstance(prop["multipleOf"], bool):
            attrs[0] = ("step", _number_text(prop["multipleOf"]))
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            bound = prop.get(key)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                attrs.append((attr, _number_text(bound)))
        shown = _number_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""
        return FormField(
            **common,
            control="input",
            input_type="number",
            required=required,
            value=shown if present else "",
            attrs=tuple(attrs),
        )
    if json_type == "string":
        input_type = _INPUT_FORMAT.get(fmt or "", "text")
        attrs = []
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            bound = prop.get(key)
            if isinstance(bound, int) and not isinstance(bound, bool):
                attrs.append((attr, str(bound)))
        shown = _string_value(value, fmt) if present else ""
        if input_type == "datetime-local":
            attrs.append(("step", "1"))
        pattern = prop.get("pattern")
        if isinstance(pattern, str) and input_type == "text":
            converted = html_pattern(pattern)
            if converted is not None:
                attrs.append(("pattern", converted))
        long_text = isinstance(prop.get("maxLength"), int) and prop["maxLength"] > _TEXTAREA_OVER
        control: Control = "textarea" if long_text and input_type == "text" else "input"
        if control == "textarea":
            attrs = [a for a in attrs if a[0] != "pattern"]
        return FormField(
            **common,
            control=control,
            input_type=input_type,
            required=required,
            value=shown,
            attrs=tuple(attrs),
        )
    shown = json.dumps(value, ensure_ascii=False) if present else ""
    return FormField(**common, control="json", required=required, value=shown)


def _choices(prop: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """(value, label) pairs of an `enum`, or of a `oneOf`/`anyOf` whose members are all `const`."""
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return [(_json_text(v), _json_text(v)) for v in enum]
    for key in ("oneOf", "anyOf"):
        members = prop.get(key)
        if (
            isinstance(members, list)
            and members
            and all(isinstance(m, Mapping) and "const" in m for m in members)
        ):
            return [(_json_text(m["const"]), str(m.get("title") or _json_text(m["const"]))) for m in members]
    return None


def _json_text(value: Any) -> str:
    """The text a control shows for a JSON value: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _string_value(value: Any, fmt: str | None) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else _json_text(value)
    if fmt == "date-time":  # datetime-local takes local wall time without an offset
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        if instant.tzinfo is not None:
            instant = instant.astimezone(SHANGHAI).replace(tzinfo=None)
        return instant.isoformat(timespec="seconds")
    return text


def _field_of(error: FieldError) -> str:
    """The top-level property a field error points at ("" for the whole form)."""
    parts = error.field.strip("/").split("/", 1)
    return parts[0].replace("~1", "/").replace("~0", "~")


# -- the material checklist ----------------------------------------------------------------------
def checklist_for(step: Step, bundle: Bundle, verdicts: Iterable[MaterialVerdict]) -> Checklist:
    """Split the audit's verdicts for `step` into what the applicant brings and what not (with why)."""
    materials = {m.id: m for m in step.materials}
    keep: list[ChecklistItem] = []
    waived: list[WaivedItem] = []
    for v in verdicts:
        if v.step != step.id:
            continue
        material = materials.get(v.material)
        if v.verdict == "keep":
            keep.append(_kept(v, material))
        else:
            waived.append(_waived(v, material, bundle))
    return Checklist(tuple(keep), tuple(waived))


def _kept(v: MaterialVerdict, material: Material | None) -> ChecklistItem:
    bases = tuple(f"{b.doc}{b.article or ''}" for b in material.legal_bases) if material else ()
    return ChecklistItem(
        id=v.material,
        name=v.name,
        necessity=v.necessity,
        necessity_label=_NECESSITY.get(v.necessity, v.necessity),
        issuer=material.issuer if material else None,
        supplement_within=v.supplement_within,
        bases=bases,
    )


def _waived(v: MaterialVerdict, material: Material | None, bundle: Bundle) -> WaivedItem:
    if v.verdict == "generated":
        producer = bundle.step(v.produced_by) if v.produced_by else None
        where = f"“{producer.name}”环节" if producer else "前序环节"
        result = f"（{producer.result}）" if producer and producer.result else ""
        return WaivedItem(
            v.material, v.name, "generated", f"由本件{where}的办理结果{result}在件内流转，无需提交"
        )
    if v.verdict == "online_form":
        return WaivedItem(v.material, v.name, "online_form", "在本页表单中在线填写，无需另交纸质材料")
    if v.verdict == "exempt" and v.exempt_by == "commitment":
        return WaivedItem(
            v.material, v.name, "commitment", "以书面承诺代替（告知承诺制），签署承诺书即可，无需提交"
        )
    if v.verdict == "exempt":
        if material is not None and material.e_license:
            return WaivedItem(
                v.material,
                v.name,
                "e_license",
                f"窗口通过电子证照“{material.e_license}”核验，无需提交",
            )
        if material is not None and material.online_check:
            return WaivedItem(
                v.material,
                v.name,
                "online_check",
                f"窗口通过“{material.online_check}”在线核查，无需提交",
            )
        return WaivedItem(v.material, v.name, "e_license", "窗口通过电子证照或在线核验获取，无需提交")
    return WaivedItem(v.material, v.name, "cancelled", "依“五个一律”清理取消，无需提交")


def _audit(bundle: Bundle) -> tuple[MaterialVerdict, ...]:
    from ..audit import audit_bundle, default_rules, load_catalog

    return audit_bundle(bundle, catalog=load_catalog(), rules=default_rules()).materials


# -- headings ------------------------------------------------------------------------------------
def _limit_text(limit: TimeLimit | None, kind: str) -> str | None:
    if kind == "immediate":
        return "即办件（当场办结）"
    if limit is None:
        return None
    unit = _UNIT.get(limit.unit, limit.unit)
    parts = []
    if limit.promised is not None:
        parts.append(f"承诺{limit.promised}{unit}")
    if limit.legal is not None:
        parts.append(f"法定{limit.legal}{unit}")
    return "，".join(parts) or None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "form"


@cache
def _template() -> Template:
    return environment(keep_trailing_newline=True).get_template(TEMPLATE)


# -- patterns ------------------------------------------------------------------------------------
# Escapes that mean the same in Python `re` and in JavaScript's Unicode-sets (`v`) mode.
_CLASS_ESCAPES = set("dDwWsS")
_CONTROL_ESCAPES = set("fnrtv0")
_SYNTAX = set("^$\\.*+?()[]{}|/")
# Inside a `v`-mode class these must be escaped (syntax characters and reserved double punctuators).
_CLASS_PUNCTUATION = set("()[]{}/-|&!#$%*+,.:;<=>?@^`~")


def html_pattern(pattern: str) -> str | None:
    """A JSON Schema `pattern` as an HTML `pattern` attribute, or None when it cannot be carried over.

    The attribute must match the whole value and is compiled in JavaScript's Unicode-sets (`v`) mode,
    where a class must escape `( ) [ ] { } / - |` and reserved punctuation that Python takes
    literally; a JSON Schema pattern matches anywhere in the value. Python-only syntax (named groups
    `(?P…)`, inline flags, `\\A`, `\\Z` …) gives None: the server still checks the value.
    """
    out: list[str] = []
    depth = 0
    top_level_alternation = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            escape = _escape(pattern, i, in_class=False)
            if escape is None:
                return None
            out.append(escape[0])
            i += escape[1]
        elif c == "[":
            end, converted = _class(pattern, i)
            if converted is None:
                return None
            out.append(converted)
            i = end
        else:
            if c == "(":
                if pattern.startswith("(?", i) and not pattern.startswith(("(?:", "(?=", "(?!"), i):
                    return None  # named groups, lookbehind, inline flags: not carried over
                depth += 1
            elif c == ")":
                depth -= 1
                if depth < 0:
                    return None
            elif c == "|" and depth == 0:
                top_level_alternation = True
            elif c in "{}" and not _quantifier_brace(pattern, i):
                return None  # a literal brace: an error in `v` mode
            out.append(c)
            i += 1
    if depth != 0:
        return None
    body = "".join(out)
    anchored = body.startswith("^") and body.endswith("$") and not body.endswith("\\$")
    if anchored and not top_level_alternation:
        return body
    return f"[\\s\\S]*(?:{body})[\\s\\S]*"


def _quantifier_brace(pattern: str, i: int) -> bool:
    if pattern[i] == "{":
        return re.match(r"\{\d+(,\d*)?\}", pattern[i:]) is not None
    start = pattern.rfind("{", 0, i)
    return start >= 0 and re.fullmatch(r"\{\d+(,\d*)?\}", pattern[start : i + 1]) is not None


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str, int] | None:
    """The escape sequence at `i` as it reads in `v` mode and its length (None: no safe equivalent)."""
    if i + 1 >= len(pattern):
        return None
    c = pattern[i + 1]
    if c == "u" and re.match(r"[0-9A-Fa-f]{4}", pattern[i + 2 : i + 6]):
        return pattern[i : i + 6], 6
    if c == "x" and re.match(r"[0-9A-Fa-f]{2}", pattern[i + 2 : i + 4]):
        return pattern[i : i + 4], 4
    if c == "0" and i + 2 < len(pattern) and pattern[i + 2].isdigit():
        return None  # an octal escape in Python, an error in JavaScript
    if c == "-":
        return ("\\-", 2) if in_class else ("-", 2)  # `\-` outside a class is an error in `v` mode
    if c in _CLASS_ESCAPES or c in _CONTROL_ESCAPES or c in _SYNTAX or c in "bB":
        if c == "B" and in_class:
            return None
        return pattern[i : i + 2], 2
    return None


def _class(pattern: str, start: int) -> tuple[int, str | None]:
    """Rewrite the character class at `start` for `v` mode; returns (index after it, text or None)."""
    i = start + 1
    negate = ""
    if i < len(pattern) and pattern[i] == "^":
        negate, i = "^", i + 1
    atoms: list[tuple[str, bool]] = []  # (text, is a single literal character or escape)
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            break
        if c == "[" and pattern.startswith(("[:", "[=", "[."), i):
            return len(pattern), None  # POSIX-like syntax: Python warns, JavaScript differs
        if c == "\\":
            escape = _escape(pattern, i, in_class=True)
            if escape is None:
                return len(pattern), None
            atoms.append((escape[0], escape[0][1] not in _CLASS_ESCAPES))
            i += escape[1]
        else:
            atoms.append((c, True))
            i += 1
        first = False
    if i >= len(pattern):
        return len(pattern), None  # unterminated class
    parts: list[str] = []
    k = 0
    while k < len(atoms):
        text, single = atoms[k]
        is_range = (
            k + 2 < len(atoms)
            and single
            and atoms[k + 1][0] == "-"
            and atoms[k + 2][1]
            and atoms[k + 2][0] != "-"
        )
        if is_range:
            parts.append(_class_char(text) + "-" + _class_char(atoms[k + 2][0]))
            k += 3
            continue
        if not single and k + 1 < len(atoms) and atoms[k + 1][0] == "-" and k + 2 < len(atoms):
            return len(pattern), None  # a range from a class escape: an error in JavaScript
        parts.append(_class_char(text))
        k += 1
    return i + 1, "[" + negate + "".join(parts) + "]"


def _class_char(text: str) -> str:
    if len(text) == 1 and text in _CLASS_PUNCTUATION:
        return "\\" + text
    return text
