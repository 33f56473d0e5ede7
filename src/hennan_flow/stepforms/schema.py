"""Form schemas as designers write them: read, bounded, checked, and bundled for deploy.

A step's form is `forms/<ref>.schema.json` (JSON Schema 2020-12). Nothing in a form schema is ever
fetched: a `$ref` points within the schema (`#/$defs/…`, `#anchor`) or at another schema of the same
forms folder, written relative to the referring file (`common/address.schema.json`,
`../common/address.schema.json`) or as `urn:hennan-flow:forms:common/address`. `validate` refuses every
other reference (`http://`, `file://`, absolute paths, a `..` that leaves the folder) before any file is
opened or any connection made; `deploy` stores the form with every schema it refers to, relative refs
rewritten to their `urn:hennan-flow:forms:` name, so a case checks its data against a registry of
stored resources only (`form_registry`), never the network or the file system.

Also refused, each with the schema file, the JSON pointer and a fix: a form that is `false` (it would
refuse every submission; `true` accepts any and is a warning), a file over `MAX_SCHEMA_BYTES`, JSON
nested deeper than `MAX_SCHEMA_DEPTH`, more than `MAX_SCHEMA_NODES` subschemas or `MAX_REFERENCED`
schemas, a `pattern` RE2 cannot compile (see `patterns`), `$dynamicRef`, a `$id` other than the form's
own `urn:hennan-flow:forms:<ref>`, a `$ref` that points at nothing, `$ref` loops that never step
into the data (they would recurse for ever on one value), and `unevaluatedProperties` beside
`patternProperties` (jsonschema evaluates that pair with Python's backtracking `re`).

Designer notes: `description` and `title` are shown to the applicant; notes for designers go in
`x-hf-designer-note` (or `$comment`), which nothing renders. A `description` that reads like a note for
designers (gateway names, snake_case field names, true/false) is a warning.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from ..errors import BpmnError, Location
from .patterns import pattern_error

__all__ = [
    "FORM_URN",
    "MAX_MESSAGE_TEXT",
    "MAX_REFERENCED",
    "MAX_SCHEMA_BYTES",
    "MAX_SCHEMA_DEPTH",
    "MAX_SCHEMA_NODES",
    "SchemaIssue",
    "bundle_form",
    "check_form",
    "form_registry",
    "sensitive_fields",
    "stored_form_problem",
]

FORM_URN = "urn:hennan-flow:forms:"
SUFFIX = ".schema.json"
DIALECTS = {"https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2020-12/schema#"}
MAX_SCHEMA_BYTES = 256 * 1024  # one schema file
MAX_SCHEMA_DEPTH = 32  # JSON nesting of one schema file (and subschema nesting of a stored one)
MAX_SCHEMA_NODES = 10_000  # subschemas of a form and of every schema it refers to
MAX_REFERENCED = 32  # schemas one form pulls in through $ref
MAX_MESSAGE_TEXT = 100  # an `x-hf-messages` text
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DESIGNER_WORDS = re.compile(
    r"网关|分支|走向|后续路径|流程变量|(?<![A-Za-z0-9_])(?:[a-z][a-z0-9]*_[a-z0-9_]+|true|false)(?![A-Za-z0-9_])"
)
_REF_FIX = (
    "copy the schema into the forms folder and refer to it relatively "
    '("common/address.schema.json") or as "urn:hennan-flow:forms:common/address"; '
    "form schemas are never fetched"
)

# where subschemas sit: (keyword, shape, applies to the same value?)
_ONE, _LIST, _MAP = "one", "list", "map"
_SUBSCHEMAS: tuple[tuple[str, str, bool], ...] = (
    ("allOf", _LIST, True),
    ("anyOf", _LIST, True),
    ("oneOf", _LIST, True),
    ("not", _ONE, True),
    ("if", _ONE, True),
    ("then", _ONE, True),
    ("else", _ONE, True),
    ("dependentSchemas", _MAP, True),
    ("properties", _MAP, False),
    ("patternProperties", _MAP, False),
    ("additionalProperties", _ONE, False),
    ("unevaluatedProperties", _ONE, False),
    ("propertyNames", _ONE, False),
    ("items", _ONE, False),
    ("prefixItems", _LIST, False),
    ("contains", _ONE, False),
    ("unevaluatedItems", _ONE, False),
    ("contentSchema", _ONE, False),
    ("$defs", _MAP, False),
    ("definitions", _MAP, False),
)

Node = tuple[str, str]  # (form ref of the schema file, JSON pointer)


@dataclass(frozen=True)
class SchemaIssue:
    """One thing wrong with a form schema: what (file and pointer included) and what to do."""

    severity: Literal["error", "warning"]
    message: str
    hint: str


def pointer(segments: tuple[str | int, ...] | list[str | int]) -> str:
    """A JSON pointer ("" is the whole document)."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


def _quoted(text: object, limit: int = 80) -> str:
    shown = str(text)
    return json.dumps(shown if len(shown) <= limit else shown[:limit] + "…", ensure_ascii=False)


def _json_depth(text: str, limit: int) -> int:
    """How deeply the JSON text nests objects and arrays (stops counting past `limit`); linear time."""
    brackets = re.compile(r'["\[\]{}]')
    depth = deepest = 0
    i = 0
    while (found := brackets.search(text, i)) is not None:
        char, i = found.group(), found.end()
        if char == '"':  # skip the string: the next quote not escaped by an odd run of backslashes
            while (end := text.find('"', i)) >= 0:
                run = end - 1
                while run >= i and text[run] == "\\":
                    run -= 1
                i = end + 1
                if (end - 1 - run) % 2 == 0:
                    break
            else:
                return deepest
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        else:
            depth -= 1
    return deepest


def _meta_checker() -> FormatChecker:
    """The 2020-12 formats minus `regex`: patterns are checked with RE2 below, with their pointer."""
    base = Draft202012Validator.FORMAT_CHECKER
    checker = FormatChecker(formats=())
    checker.checkers = {k: v for k, v in base.checkers.items() if k != "regex"}
    return checker


_MISSING = object()


class _FormSet:
    """The schemas one form pulls in, checked: from the forms folder (`root`) or a stored definition."""

    def __init__(self, *, root: Path | None = None, stored: Mapping[str, Any] | None = None):
        self.root = root
        self.stored = stored
        self.schemas: dict[str, Any] = {}
        self.files: dict[str, str] = {}
        self.issues: list[SchemaIssue] = []
        self._nodes: dict[Node, Any] = {}
        self._in_place: dict[Node, list[Node]] = {}
        self._refs: list[tuple[Node, str]] = []

    @property
    def errors(self) -> list[SchemaIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def _error(self, ref: str, at: str, message: str, hint: str) -> None:
        where = f"form {ref} ({self.files.get(ref, ref + SUFFIX)})"
        self.issues.append(SchemaIssue("error", f"{where} at {at or '/'}: {message}", hint))

    def load(self, ref: str, path: Path | None = None) -> _FormSet:
        queue: list[tuple[str, Path | None, str | None]] = [(ref, path, None)]
        while queue:
            current, file, referrer = queue.pop(0)
            if current in self.schemas:
                continue
            if len(self.schemas) > MAX_REFERENCED:
                self._error(ref, "", f"refers to more than {MAX_REFERENCED} schemas", "merge the schemas")
                return self
            schema = self._read(current, file, referrer)
            if schema is _MISSING:
                continue
            self.schemas[current] = schema
            queue.extend(self._check(current, schema, top=current == ref))
        uses = {k for node in self._nodes.values() if isinstance(node, dict) for k in node}
        if {"unevaluatedProperties", "patternProperties"} <= uses:
            self._error(
                ref,
                "",
                "unevaluatedProperties together with patternProperties: that check would run the "
                "patterns with Python's backtracking re",
                "use additionalProperties: false beside patternProperties",
            )
        if not self.errors:
            self._check_targets()
        if not self.errors:
            self._check_loops()
        return self

    # -- reading -------------------------------------------------------------------------------
    def _read(self, ref: str, path: Path | None, referrer: str | None) -> Any:
        if self.stored is not None:
            if ref not in self.stored:
                self._error(referrer or ref, "", f"the schema {ref} is not stored", "deploy the bundle again")
                return _MISSING
            return self.stored[ref]
        assert self.root is not None
        path = path or self.root / f"{ref}{SUFFIX}"
        self.files[ref] = _display(path)
        if not path.is_file():
            self._error(ref, "", "not a regular file", "put the schema file in the forms folder")
            return _MISSING
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_SCHEMA_BYTES + 1)
        except OSError as exc:
            self._error(ref, "", f"cannot be read: {exc.strerror or exc}", "check the file")
            return _MISSING
        if len(raw) > MAX_SCHEMA_BYTES:
            self._error(
                ref, "", f"larger than {MAX_SCHEMA_BYTES // 1024} KiB", "split it into smaller schemas"
            )
            return _MISSING
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self._error(ref, "", f"is not UTF-8 (byte {exc.start})", "save the schema as UTF-8")
            return _MISSING
        if _json_depth(text, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
            self._error(
                ref,
                "",
                f"nests JSON deeper than {MAX_SCHEMA_DEPTH} levels",
                "flatten the schema (move shared parts to $defs)",
            )
            return _MISSING
        try:
            return json.loads(text)
        except ValueError as exc:
            self._error(ref, "", f"is not readable JSON: {exc}", "fix the JSON of the form schema")
            return _MISSING

    # -- one schema -------------------------------------------------------------------------------
    def _check(self, ref: str, schema: Any, *, top: bool) -> list[tuple[str, Path | None, str | None]]:
        if schema is False:
            if top:
                self._error(
                    ref,
                    "",
                    "the schema is false: the step would refuse every submission",
                    "describe the step's fields, or remove hf:form if the step takes no data",
                )
            return []
        if schema is True:
            if top:
                where = f"form {ref} ({self.files.get(ref, ref + SUFFIX)})"
                self.issues.append(
                    SchemaIssue(
                        "warning", f"{where}: the schema is true and accepts any data", "list the fields"
                    )
                )
            return []
        if not isinstance(schema, dict):
            self._error(ref, "", "is not a JSON Schema object", 'start the file with {"type": "object", …}')
            return []
        dialect = schema.get("$schema")
        if dialect is not None and dialect not in DIALECTS:
            self._error(
                ref,
                "/$schema",
                f"{_quoted(dialect)} is not JSON Schema 2020-12, the dialect forms are checked with",
                'use "$schema": "https://json-schema.org/draft/2020-12/schema" (or leave it out)',
            )
            return []
        try:
            Draft202012Validator.check_schema(schema, format_checker=_meta_checker())
        except SchemaError as exc:
            self._error(
                ref,
                pointer(list(exc.absolute_path)),
                f"not a valid JSON Schema: {exc.message}",
                "fix the schema (JSON Schema 2020-12)",
            )
            return []
        own = schema.get("$id")
        if own is not None and own != FORM_URN + ref:
            self._error(
                ref,
                "/$id",
                f"$id {_quoted(own)} is not this form's name",
                f'remove the $id or write "{FORM_URN}{ref}"',
            )
        more: list[tuple[str, Path | None, str | None]] = []
        for segments, node, depth in _subschemas(schema):
            if len(self._nodes) >= MAX_SCHEMA_NODES:
                self._error(ref, "", f"more than {MAX_SCHEMA_NODES} subschemas", "split the form")
                return more
            self._nodes[(ref, pointer(segments))] = node
            if isinstance(node, dict):
                more.extend(self._check_node(ref, segments, node, depth))
        return more

    def _check_node(
        self, ref: str, segments: tuple[str | int, ...], node: dict[str, Any], depth: int
    ) -> list[tuple[str, Path | None, str | None]]:
        at = pointer(segments)
        if depth > MAX_SCHEMA_DEPTH:
            self._error(ref, at, f"subschemas nested deeper than {MAX_SCHEMA_DEPTH}", "flatten the schema")
        if segments and "$id" in node:
            self._error(
                ref, at + "/$id", "a $id inside a form schema", "remove it; refer to $defs by pointer"
            )
        if "$dynamicRef" in node:
            self._error(ref, at + "/$dynamicRef", "$dynamicRef is not supported in forms", "use $ref")
        self._in_place[(ref, at)] = [
            (ref, pointer((*segments, *child)))
            for keyword, shape, same in _SUBSCHEMAS
            if same and keyword in node
            for child in _children(keyword, shape, node[keyword])
        ]
        pattern = node.get("pattern")
        if isinstance(pattern, str) and (reason := pattern_error(pattern)) is not None:
            self._pattern_issue(ref, at + "/pattern", pattern, reason)
        for key in node.get("patternProperties") or {}:
            if (reason := pattern_error(key)) is not None:
                self._pattern_issue(ref, at + "/patternProperties", key, reason)
        messages = node.get("x-hf-messages")
        if messages is not None and not (
            isinstance(messages, dict)
            and all(isinstance(v, str) and 0 < len(v) <= MAX_MESSAGE_TEXT for v in messages.values())
        ):
            self._error(
                ref,
                at + "/x-hf-messages",
                f"x-hf-messages must map keywords to texts of 1 to {MAX_MESSAGE_TEXT} characters",
                'e.g. "x-hf-messages": {"pattern": "请填写18位公民身份号码"}',
            )
        if "x-hf-sensitive" in node and not isinstance(node["x-hf-sensitive"], bool):
            self._error(
                ref,
                at + "/x-hf-sensitive",
                "x-hf-sensitive must be true or false",
                'mark personal data (身份证号, phones, addresses, names) with "x-hf-sensitive": true',
            )
        description = node.get("description")
        if self.stored is None and isinstance(description, str) and _DESIGNER_WORDS.search(description):
            self.issues.append(
                SchemaIssue(
                    "warning",
                    f"form {ref} ({self.files.get(ref, ref)}) at {at}/description: reads like a note "
                    "for designers, but descriptions are shown to the applicant",
                    'move it to "x-hf-designer-note" (never shown), or word it for the applicant',
                )
            )
        value = node.get("$ref")
        if not isinstance(value, str):
            return []
        target = self._target(ref, at + "/$ref", value)
        if target is None:
            return []
        target_ref, fragment = target
        if self.stored is None and (target_ref != ref or not value.startswith("#")):
            node["$ref"] = FORM_URN + target_ref + (f"#{fragment}" if fragment else "")
        self._refs.append(((ref, at), node["$ref"]))
        if target_ref == ref:
            return []
        file = None if self.root is None else self.root / f"{target_ref}{SUFFIX}"
        return [(target_ref, file, ref)]

    def _pattern_issue(self, ref: str, at: str, pattern: str, reason: str) -> None:
        self._error(
            ref,
            at,
            f"the pattern {_quoted(pattern)} cannot be checked in linear time ({reason})",
            "form patterns run on RE2: drop look-around and back-references, keep repetition counts "
            "up to 1000, write \\z for \\Z (docs/forms.md)",
        )

    def _target(self, ref: str, at: str, value: str) -> tuple[str, str] | None:
        """(form ref, fragment) a `$ref` names, or None after reporting why it may not be used."""
        if value.startswith("#"):
            return ref, value[1:]
        path, _, fragment = value.partition("#")
        if value.startswith(FORM_URN):
            name = path[len(FORM_URN) :]
        elif "\\" in value or value.startswith("/") or _SCHEME.match(value):
            kind = "an absolute path" if value.startswith(("/", "\\")) else f"a {value.split(':')[0]}: URI"
            self._error(ref, at, f"$ref {_quoted(value)} is {kind}", _REF_FIX)
            return None
        elif self.stored is not None:
            self._error(ref, at, f"$ref {_quoted(value)} is not a stored schema", "deploy the bundle again")
            return None
        elif not path.endswith(SUFFIX):
            self._error(ref, at, f"$ref {_quoted(value)} names no *{SUFFIX} file", _REF_FIX)
            return None
        else:
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(ref), path))
            if joined == ".." or joined.startswith(("../", "/")):
                self._error(ref, at, f"$ref {_quoted(value)} leaves the forms folder", _REF_FIX)
                return None
            name = joined[: -len(SUFFIX)]
        if "%" in value or not all(_SEGMENT.fullmatch(s) and s not in {".", ".."} for s in name.split("/")):
            self._error(
                ref,
                at,
                f"$ref {_quoted(value)} is not a plain path inside the forms folder",
                "use letters, digits, _ - . and / only, without .. or %-escapes",
            )
            return None
        if self.root is not None and name != ref:
            file = self.root / f"{name}{SUFFIX}"
            inside = file.resolve().is_relative_to(self.root.resolve())
            if not inside or not file.is_file():
                self._error(
                    ref,
                    at,
                    f"$ref {_quoted(value)}: no schema {name}{SUFFIX} in the forms folder {self.root}",
                    "add the schema there or fix the $ref",
                )
                return None
        return name, fragment

    # -- the set ---------------------------------------------------------------------------------
    def _check_targets(self) -> None:
        registry = form_registry(self.schemas)
        ids = {id(node): key for key, node in self._nodes.items() if isinstance(node, dict)}
        for (ref, at), value in self._refs:
            try:
                found = registry.resolver(base_uri=FORM_URN + ref).lookup(value)
            except Unresolvable:
                self._error(ref, at + "/$ref", f"$ref {_quoted(value)} points at nothing", "fix the $ref")
                continue
            target = ids.get(id(found.contents))
            if target is not None:
                self._in_place.setdefault((ref, at), []).append(target)

    def _check_loops(self) -> None:
        """A loop of `$ref`s and in-place applicators that never steps into the data recurses for ever."""
        state: dict[Node, int] = {}  # 1 on the path, 2 done
        for start in self._in_place:
            if start in state:
                continue
            path = [start]
            stack = [iter(self._in_place.get(start, ()))]
            state[start] = 1
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    loop = [*path[path.index(nxt) :], nxt]
                    shown = " → ".join(f"{r}#{p}" for r, p in loop)
                    self._error(
                        nxt[0],
                        nxt[1],
                        f"a $ref loop that never steps into the data: {shown}",
                        "break the loop (a $ref may come back only under properties or items)",
                    )
                    return
                elif nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(self._in_place.get(nxt, ())))


def _display(path: Path) -> str:
    """A schema file as a designer finds it: relative to the working folder when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _children(keyword: str, shape: str, value: Any) -> Iterator[tuple[str | int, ...]]:
    if shape == _ONE and isinstance(value, dict | bool):
        yield (keyword,)
    elif shape == _LIST and isinstance(value, list):
        yield from ((keyword, i) for i, v in enumerate(value) if isinstance(v, dict | bool))
    elif shape == _MAP and isinstance(value, dict):
        yield from ((keyword, k) for k, v in value.items() if isinstance(v, dict | bool))


def _subschemas(schema: Any) -> Iterator[tuple[tuple[str | int, ...], Any, int]]:
    """Every subschema (pointer segments, node, nesting depth), the root first; iterative."""
    stack: list[tuple[tuple[str | int, ...], Any, int]] = [((), schema, 0)]
    while stack:
        segments, node, depth = stack.pop()
        yield segments, node, depth
        if not isinstance(node, dict) or depth > MAX_SCHEMA_DEPTH:
            continue
        for keyword, shape, _ in reversed(_SUBSCHEMAS):
            if keyword not in node:
                continue
            for child in reversed(list(_children(keyword, shape, node[keyword]))):
                value: Any = node
                for step in child:
                    value = value[step]
                stack.append(((*segments, *child), value, depth + 1))


def sensitive_fields(schema: Any) -> frozenset[str]:
    """The names of the fields a form marks `"x-hf-sensitive": true` (personal data, sealed at rest)."""
    return frozenset(
        str(segments[-1])
        for segments, node, _depth in _subschemas(schema)
        if isinstance(node, dict) and node.get("x-hf-sensitive") is True and segments
    )


def forms_root(path: Path, ref: str) -> Path:
    """The forms folder a form file lives in (`path` is `<root>/<ref>.schema.json`)."""
    return path.parents[ref.count("/")]


def _plain_ref(ref: str) -> SchemaIssue | None:
    if all(_SEGMENT.fullmatch(s) and s not in {".", ".."} for s in ref.split("/")):
        return None
    return SchemaIssue(
        "error",
        f"hf:form ref {_quoted(ref)} is not a plain path inside the forms folder",
        'write it as <bundle>/<step>, e.g. "enterprise_opening/register"',
    )


def check_form(path: Path, ref: str) -> list[SchemaIssue]:
    """Everything wrong with the form `ref` at `path` and the schemas it refers to (never raises)."""
    refused = _plain_ref(ref)
    if refused is not None:
        return [refused]
    return _FormSet(root=forms_root(path, ref)).load(ref, path).issues


def bundle_form(path: Path, ref: str) -> dict[str, Any]:
    """The form and every schema it refers to, by form ref, with `$ref`s rewritten to their URNs.

    What `deploy` stores with the definition version; refuses (BpmnError) what `check_form` reports.
    """
    refused = _plain_ref(ref)
    forms = _FormSet(root=forms_root(path, ref))
    if refused is None:
        forms.load(ref, path)
    if refused is not None or forms.errors:
        first = refused or forms.errors[0]
        raise BpmnError(first.message, hint=first.hint, location=Location(file=str(path)), code="HF-FORM")
    return forms.schemas


def stored_form_problem(forms: Mapping[str, Any], ref: str) -> SchemaIssue | None:
    """The first reason a stored form cannot be checked safely (deployed before these checks), or None."""
    checked = _FormSet(stored=forms).load(ref)
    return checked.errors[0] if checked.errors else None


def form_registry(forms: Mapping[str, Any]) -> Registry[Any]:
    """The stored schemas as `urn:hennan-flow:forms:<ref>` resources: no retrieval, ever."""
    return Registry().with_resources(
        (FORM_URN + ref, DRAFT202012.create_resource(schema))
        for ref, schema in forms.items()
        if isinstance(schema, dict | bool)
    )
