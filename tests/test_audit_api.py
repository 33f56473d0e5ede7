"""The audit's public surface (what the engine's deploy and embedding code call), pinned."""

from __future__ import annotations

import inspect
import types

import hennan_flow.audit as audit
from hennan_flow.audit import AuditReport, Catalog, Finding, RuleSet


def test_all_is_sorted_and_complete() -> None:
    assert audit.__all__ == sorted(audit.__all__)  # isort style (ruff RUF022): classes, then functions
    public = {
        name
        for name, value in vars(audit).items()
        if not name.startswith("_")
        and type(value).__module__ != "__future__"
        and not isinstance(value, types.ModuleType)
    }
    assert set(audit.__all__) == public


def test_entry_point_signatures() -> None:
    def params(fn: object) -> list[tuple[str, object, object]]:
        sig = inspect.signature(fn)  # type: ignore[arg-type]
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    kw = inspect.Parameter.KEYWORD_ONLY
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params(audit.audit_paths) == [
        ("paths", pos, inspect.Parameter.empty),
        ("catalog", kw, None),
        ("rules", kw, None),
        ("forms", kw, None),  # the forms folder of the validate run (DESIGN §12: validate errors first)
    ]
    assert params(audit.audit_document) == [
        ("doc", pos, inspect.Parameter.empty),
        ("catalog", kw, None),
        ("rules", kw, None),
    ]
    assert params(audit.load_catalog) == [("paths", pos, ())]
    assert params(audit.default_rules) == []
    assert isinstance(audit.default_rules(), RuleSet)
    assert isinstance(audit.load_catalog(), Catalog)


def test_finding_and_report_shape() -> None:
    fields = [f for f in Finding.__dataclass_fields__]
    assert fields[:9] == [
        "rule",
        "severity",
        "file",
        "line",
        "element",
        "material",
        "quoted",
        "message",
        "fix",
    ]
    assert Finding.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert {"bundles", "findings"} <= set(AuditReport.__dataclass_fields__)
    assert isinstance(inspect.getattr_static(AuditReport, "has_errors"), property)
