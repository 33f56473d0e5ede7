"""Form data against the step's JSON Schema: one Chinese message per field, nothing stored on failure.

The check is standalone and cheap: it needs the step's stored schemas and nothing else (no session,
no lock), so a caller can run it before its write transaction. It is bounded whatever comes in:

- the data: at most `MAX_DATA_CHARS` characters of text (keys and strings), `MAX_DATA_NODES` values
  and `MAX_DATA_DEPTH` levels, measured before anything else looks at it;
- the rules: `pattern` and `patternProperties` run on RE2 (linear time, `patterns`), every `$ref`
  resolves in a registry of the stored schemas only (no retrieval), and a submission may spend at
  most `MAX_CHECK_STEPS` units of rule evaluation: 1 per plain rule, `DESCENT_COST` per `$ref` or
  combinator (`allOf`, `anyOf`, …), which cost tens of times more to evaluate;
- the answer: every missing field once, at its own pointer; every unknown field; at most
  `MAX_FIELD_ERRORS` field errors, each message naming the field and the rule, never the value.

A form that is `false` refuses every submission (fail-closed); a stored form that cannot be checked
safely (deployed before these checks) raises ConfigError instead of being checked partly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from ..errors import ConfigError, FieldError, FormDataError, Location
from .messages import FORM, MAX_MESSAGE, label_of, message_for, short
from .patterns import PatternError, compile_uncached, search
from .schema import FORM_URN, form_registry, pointer, stored_form_problem

__all__ = [
    "DESCENT_COST",
    "MAX_CHECK_STEPS",
    "MAX_DATA_CHARS",
    "MAX_DATA_DEPTH",
    "MAX_DATA_NODES",
    "MAX_FIELD_ERRORS",
    "FormValidator",
    "check_form_data",
    "form_validator",
]

MAX_DATA_CHARS = 1_000_000
MAX_DATA_NODES = 10_000
MAX_DATA_DEPTH = 32
MAX_CHECK_STEPS = 100_000
DESCENT_COST = 10  # the units of one $ref or combinator evaluation (bench/forms.py times them)
_DESCENTS = frozenset(
    {"$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"}
)
MAX_FIELD_ERRORS = 50
_MAX_SEGMENT = 64  # an unknown key as it appears in a pointer
_UNKNOWN = "not a field of this form"  # the errors this module raises for one unknown key each

_BUDGET: ContextVar[list[int] | None] = ContextVar("hf_form_budget", default=None)


class _TooComplex(Exception):
    """The submission needs more units of rule evaluation than MAX_CHECK_STEPS."""


Keyword = Callable[[Any, Any, Any, Mapping[str, Any]], Iterable[ValidationError] | None]


def _counted(keyword: Keyword, cost: int) -> Keyword:
    def counted(
        validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        budget = _BUDGET.get()
        if budget is not None:
            budget[0] -= cost
            if budget[0] < 0:
                raise _TooComplex
        yield from keyword(validator, value, instance, schema) or ()

    return counted


# -- keywords that name their field (and run patterns on RE2) -------------------------------------
def _required(
    validator: Any, required: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for name in dict.fromkeys(required):  # once each, even if listed twice
        if name not in instance:
            yield ValidationError("missing", path=[name])


def _dependent_required(
    validator: Any, dependent: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    missing = {each: None for name, needs in dependent.items() if name in instance for each in needs}
    for each in missing:
        if each not in instance:
            yield ValidationError("missing", path=[each])


def _matches_any(patterns: Iterable[str], key: str) -> bool:
    return any(search(p, key) for p in patterns)


def _additional(
    validator: Any, extra: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    for key in instance:
        if key in known or _matches_any(patterns, key):
            continue
        if validator.is_type(extra, "object"):
            yield from validator.descend(instance[key], extra, path=key)
        elif extra is False:
            yield ValidationError(_UNKNOWN, path=[key])


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _pattern(
    validator: Any, pattern: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError("no match")


def _unevaluated(original: Keyword) -> Keyword:
    """jsonschema's unevaluatedProperties, its one error split into one per unknown key."""

    def unevaluated(
        validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        for error in original(validator, value, instance, schema) or ():
            keys = _keys_named(error.message, instance) if value is False else None
            if keys is None:
                yield error
            else:
                yield from (ValidationError(_UNKNOWN, path=[k]) for k in keys)

    return unevaluated


def _keys_named(message: str, instance: Any) -> list[str] | None:
    """The keys jsonschema's unevaluatedProperties message lists (None when it cannot be rebuilt)."""
    if not isinstance(instance, Mapping):
        return None
    keys = sorted((k for k in instance if repr(k) in message), key=str)
    listed = ", ".join(repr(k) for k in keys)
    verb = "was" if len(keys) == 1 else "were"
    expected = f"Unevaluated properties are not allowed ({listed} {verb} unexpected)"
    return keys if keys and message == expected else None


def _is_re2(instance: object) -> bool:
    if isinstance(instance, str):
        compile_uncached(instance)  # not cached: the value comes from the applicant
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=PatternError)(_is_re2)
    return checker


def _validator_class() -> Any:
    keywords: dict[str, Keyword] = dict(Draft202012Validator.VALIDATORS)
    keywords.update(
        required=_required,
        dependentRequired=_dependent_required,
        additionalProperties=_additional,
        patternProperties=_pattern_properties,
        pattern=_pattern,
        unevaluatedProperties=_unevaluated(keywords["unevaluatedProperties"]),
    )
    counted = {k: _counted(v, DESCENT_COST if k in _DESCENTS else 1) for k, v in keywords.items()}
    return validators.extend(Draft202012Validator, counted)  # type: ignore[no-untyped-call]


_FormSchemaValidator = _validator_class()
_FORMATS = _format_checker()


# -- the validator -------------------------------------------------------------------------------
class FormValidator:
    """The checker of one form: its schema, the registry of the stored schemas, the titles of fields.

    Build once per (definition, step) and reuse; it holds no state between submissions.
    """

    def __init__(self, schema: Mapping[str, Any] | bool, registry: Registry[Any] | None = None):
        self.schema = schema
        self.registry = registry if registry is not None else Registry()
        self._validator = _FormSchemaValidator(schema, registry=self.registry, format_checker=_FORMATS)

    def iter_errors(self, data: Mapping[str, Any]) -> list[ValidationError]:
        token = _BUDGET.set([MAX_CHECK_STEPS])
        try:
            return list(self._validator.iter_errors(data))
        finally:
            _BUDGET.reset(token)

    def walk(self, path: Iterable[str | int]) -> tuple[list[tuple[str | int, str | None]], Any]:
        """The titles along a data pointer and the field's schema (following $refs of stored schemas)."""
        node: Any = self.schema
        resolver = self.registry.resolver_with_root(DRAFT202012.create_resource(self.schema))
        steps: list[tuple[str | int, str | None]] = []
        for segment in path:
            node, resolver = _deref(node, resolver)
            node, resolver = _child(node, segment, resolver)
            title = node.get("title") if isinstance(node, Mapping) else None
            if title is None:
                found, _ = _deref(node, resolver)
                title = found.get("title") if isinstance(found, Mapping) else None
            steps.append((segment, title if isinstance(title, str) else None))
        node, _ = _deref(node, resolver)
        return steps, node


def _deref(node: Any, resolver: Any) -> tuple[Any, Any]:
    for _ in range(8):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
            break
        try:
            found = resolver.lookup(node["$ref"])
        except Unresolvable:
            break
        node, resolver = found.contents, found.resolver
    return node, resolver


def _child(node: Any, segment: str | int, resolver: Any) -> tuple[Any, Any]:
    """The subschema of `node` that describes its member `segment` (looking into allOf/anyOf/oneOf)."""
    if not isinstance(node, Mapping):
        return None, resolver
    if isinstance(segment, int):
        prefix = node.get("prefixItems")
        if isinstance(prefix, list) and segment < len(prefix):
            return prefix[segment], resolver
        return node.get("items"), resolver
    properties = node.get("properties")
    if isinstance(properties, Mapping) and segment in properties:
        return properties[segment], resolver
    for key in ("allOf", "anyOf", "oneOf"):
        for member in node.get(key) or ():
            inner, inner_resolver = _deref(member, resolver)
            found, found_resolver = _child(inner, segment, inner_resolver)
            if found is not None:
                return found, found_resolver
    return None, resolver


def form_validator(
    schema: Mapping[str, Any] | bool, *, registry: Registry[Any] | None = None
) -> FormValidator:
    """A validator for a form schema and the stored schemas it refers to (build once and reuse)."""
    return FormValidator(schema, registry)


# -- the check --------------------------------------------------------------------------------------
def _refused(step: str, form: str | None, fields: tuple[FieldError, ...], hint: str) -> FormDataError:
    return FormDataError(
        f"环节 {step!r} 提交的数据与表单 {form!r} 不符：{len(fields)} 处填写有误",
        fields=fields,
        hint=hint,
        location=Location(element=step),
    )


def _over_bounds(data: Mapping[str, Any], validator: FormValidator | None) -> FieldError | None:
    """The first place the data passes a bound (iterative: deep data cannot exhaust the stack)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    nodes = chars = 0
    while stack:
        value, path = stack.pop()
        nodes += 1
        rule = None
        if nodes > MAX_DATA_NODES:
            rule = f"整张表单最多 {MAX_DATA_NODES} 项内容"
        elif len(path) > MAX_DATA_DEPTH:
            rule = f"内容最多嵌套 {MAX_DATA_DEPTH} 层"
        elif isinstance(value, str):
            chars += len(value)
        elif isinstance(value, Mapping):
            chars += sum(len(str(k)) for k in value)
            stack.extend((v, (*path, str(k))) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
        if rule is None and chars > MAX_DATA_CHARS:
            rule = f"整张表单最多 {MAX_DATA_CHARS} 个字"
        if rule is not None:
            top = path[:1]
            label = label_of(validator.walk(top)[0]) if validator is not None and top else FORM
            where = pointer([_segment(s) for s in top])
            return FieldError(where or "/", short(f"{label}的内容超出限制：{rule}", MAX_MESSAGE))
    return None


def _segment(segment: str | int) -> str | int:
    return (
        segment if isinstance(segment, int) or len(segment) <= _MAX_SEGMENT else segment[:_MAX_SEGMENT] + "…"
    )


def _field_error(
    error: ValidationError, validator: FormValidator
) -> tuple[tuple[str | int, ...], FieldError]:
    path = tuple(error.absolute_path)
    keyword = error.validator if isinstance(error.validator, str) else None
    unknown = keyword in {"additionalProperties", "unevaluatedProperties"} and error.message == _UNKNOWN
    steps, node = validator.walk(path[:-1] if unknown else path)
    label = label_of(steps)
    if unknown:
        text = message_for(keyword, None, label, key=str(path[-1]), parent=label)
    else:
        own = (
            node if isinstance(node, Mapping) else error.schema if isinstance(error.schema, Mapping) else None
        )
        text = message_for(keyword, error.validator_value, label, node=own)
    return path, FieldError(pointer([_segment(s) for s in path]) or "/", text)


def check_form_data(
    schema: Mapping[str, Any] | bool | None,
    data: Mapping[str, Any],
    *,
    step: str,
    form: str | None,
    validator: FormValidator | None = None,
    forms: Mapping[str, Any] | None = None,
) -> None:
    """Raise FormDataError listing every field the schema refuses (data is not changed).

    `forms` are the stored schemas of the definition (the form's `$ref`s resolve among them only);
    `validator` a `form_validator` built from them earlier. No schema (None) accepts any data within
    the bounds; `false` accepts none.
    """
    if not isinstance(data, Mapping):
        raise FormDataError("表单数据须为 JSON 对象", location=Location(element=step))
    if schema is not None and not isinstance(schema, Mapping | bool):
        raise _unusable(step, form, "保存的表单定义不是 JSON Schema")
    if isinstance(schema, Mapping) and validator is None:
        validator = build_validator(schema, forms or {}, form=form, step=step)
    bound = _over_bounds(data, validator)
    if bound is not None:
        raise _refused(step, form, (bound,), "请精简提交的数据（上限见 docs/forms.md）；未保存任何内容")
    if schema is None or schema is True:
        return
    if schema is False or validator is None:
        refusal = FieldError("/", "本环节的表单暂不能受理提交（表单定义有误），请联系办理部门")
        raise _refused(
            step, form, (refusal,), f"表单 {form!r} 的定义为 false（不受理任何提交）；请部署改正后的表单"
        )
    try:
        errors = validator.iter_errors(dict(data))
    except _TooComplex:
        too_much = FieldError("/", "提交的内容过于复杂，无法核对，请精简后重新提交")
        raise _refused(
            step,
            form,
            (too_much,),
            f"核对超过 {MAX_CHECK_STEPS} 个规则计算单位（见 docs/forms.md）；未保存任何内容",
        ) from None
    except (Unresolvable, PatternError, RecursionError) as exc:
        raise _unusable(step, form, type(exc).__name__) from None
    if not errors:
        return
    properties = schema.get("properties")
    order = {name: i for i, name in enumerate(properties if isinstance(properties, Mapping) else ())}
    found: dict[tuple[str, str], tuple[Any, FieldError]] = {}
    for error in errors:
        path, field = _field_error(error, validator)
        rank = (order.get(path[0], len(order)) if path else -1, field.field)
        found.setdefault((field.field, field.message), (rank, field))
    fields = [f for _, f in sorted(found.values(), key=lambda item: item[0])]
    if len(fields) > MAX_FIELD_ERRORS:
        rest = len(fields) - MAX_FIELD_ERRORS
        fields = [
            *fields[:MAX_FIELD_ERRORS],
            FieldError("/", f"另有 {rest} 处填写有误，请更正以上各项后重新提交"),
        ]
    raise _refused(step, form, tuple(fields), "请更正所列各项后重新提交；未保存任何内容")


def _unusable(step: str, form: str | None, why: str) -> ConfigError:
    return ConfigError(
        f"环节 {step!r} 的表单 {form!r} 无法核对（{why}），未保存任何内容",
        hint="重新部署事项包：hennan-flow validate 会指出表单中要修正的地方",
        location=Location(element=step),
    )


def build_validator(
    schema: Mapping[str, Any] | bool, forms: Mapping[str, Any], *, form: str | None, step: str
) -> FormValidator:
    """The validator of a stored form, after checking it is safe to run (ConfigError otherwise)."""
    own = schema.get("$id") if isinstance(schema, Mapping) else None
    key = form or (own[len(FORM_URN) :] if isinstance(own, str) and own.startswith(FORM_URN) else "form")
    stored = {**forms, key: schema}
    problem = stored_form_problem(stored, key)
    if problem is not None:
        raise _unusable(step, form, short(problem.message, 300))
    return form_validator(schema, registry=form_registry(stored))
