"""SARIF 2.1.0 audit report, for code scanning in CI (typed with TypedDicts).

Each rule is listed once in `tool.driver.rules` (id, name, short and full description, default level,
help); each finding is a result with `ruleId`/`ruleIndex`, a level, the message with its fix, a
1-based `region.startLine`, and `logicalLocations` naming the BPMN element and the material. A validate
error of an audited file comes first, as a result of a rule named by its validate code (HF-XSD …),
listed after the audit's rules. The run's `properties.scenarios` give, per bundle, the applicant's
checklist per scenario (DESIGN §12).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Literal, NotRequired, TypedDict
from urllib.parse import quote

from .records import AuditRecords, FindingRecord, RuleRecord, ValidationRecord

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "SarifLog", "render_sarif", "sarif_log"]

SARIF_VERSION: Literal["2.1.0"] = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_FULL_DESCRIPTION_MAX = 1000  # GitHub code scanning wants fullDescription under 1024 characters

Level = Literal["error", "warning", "note", "none"]


class Message(TypedDict):
    text: str
    markdown: NotRequired[str]


class ReportingConfiguration(TypedDict):
    level: Level


class ReportingDescriptor(TypedDict):
    id: str
    name: str
    shortDescription: Message
    fullDescription: Message
    defaultConfiguration: ReportingConfiguration
    help: Message
    helpUri: NotRequired[str]
    properties: dict[str, object]


class ToolComponent(TypedDict):
    name: str
    version: str
    semanticVersion: NotRequired[str]
    informationUri: NotRequired[str]
    rules: list[ReportingDescriptor]


class Tool(TypedDict):
    driver: ToolComponent


class ArtifactLocation(TypedDict):
    uri: str
    index: NotRequired[int]


class Region(TypedDict):
    startLine: int


class PhysicalLocation(TypedDict):
    artifactLocation: ArtifactLocation
    region: NotRequired[Region]


class LogicalLocation(TypedDict):
    name: str
    fullyQualifiedName: str
    kind: str


class Location(TypedDict):
    physicalLocation: PhysicalLocation
    logicalLocations: list[LogicalLocation]


class Result(TypedDict):
    ruleId: str
    ruleIndex: int
    level: Level
    message: Message
    locations: list[Location]
    partialFingerprints: dict[str, str]
    properties: dict[str, object]


class Artifact(TypedDict):
    location: ArtifactLocation


class Invocation(TypedDict):
    executionSuccessful: bool


class Run(TypedDict):
    tool: Tool
    artifacts: list[Artifact]
    invocations: list[Invocation]
    results: list[Result]
    properties: dict[str, object]


SarifLog = TypedDict("SarifLog", {"$schema": str, "version": Literal["2.1.0"], "runs": list[Run]})


def file_uri(path: str) -> str:
    """A URI reference for a path as given: relative paths stay relative (forward slashes)."""
    pure: PurePath = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    if pure.is_absolute():
        return PurePosixPath(pure.as_posix()).as_uri() if isinstance(pure, PurePosixPath) else pure.as_uri()
    return quote(pure.as_posix(), safe="/")


_LEVELS: dict[str, Level] = {"error": "error", "warning": "warning", "note": "note"}


def _level(severity: str) -> Level:
    return _LEVELS.get(severity, "none")


def _descriptor(rule: RuleRecord, help_base: str | None) -> ReportingDescriptor:
    full = f"{rule['source']} — {rule['summary']}" if rule["source"] else rule["summary"]
    if len(full) > _FULL_DESCRIPTION_MAX:
        full = full[: _FULL_DESCRIPTION_MAX - 1] + "…"
    text = f"{rule['summary']}\n\n反例：{rule['anti_pattern']}\n\n正例：{rule['best_practice']}"
    markdown = (
        f"**{rule['id']} {rule['name']}** — {rule['source']}\n\n{rule['summary']}\n\n"
        f"**反例**：{rule['anti_pattern']}\n\n**正例**：{rule['best_practice']}"
    )
    descriptor: ReportingDescriptor = {
        "id": rule["id"],
        "name": rule["name"],
        "shortDescription": {"text": rule["summary"]},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": _level(rule["severity"])},
        "help": {"text": text, "markdown": markdown},
        "properties": {"tags": ["五个一律", "material-audit"], "source": rule["source"]},
    }
    if help_base:
        descriptor["helpUri"] = f"{help_base}#{rule['id'].lower()}"
    return descriptor


def _validate_descriptor(code: str) -> ReportingDescriptor:
    text = f"hennan-flow validate 不通过（{code}）：该文件不得视为审查通过"
    return {
        "id": code,
        "name": "validate",
        "shortDescription": {"text": text},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": "error"},
        "help": {"text": "对该文件运行 hennan-flow validate，按其报告逐项修改"},
        "properties": {"tags": ["validate"], "source": "hennan-flow validate"},
    }


def _validation_result(p: ValidationRecord, index: dict[str, int], artifacts: dict[str, int]) -> Result:
    physical: PhysicalLocation = {
        "artifactLocation": {"uri": file_uri(p["file"]), "index": artifacts[p["file"]]}
    }
    if p["line"]:
        physical["region"] = {"startLine": p["line"]}
    logical: list[LogicalLocation] = (
        [{"name": p["element"], "fullyQualifiedName": p["element"], "kind": "element"}]
        if p["element"]
        else []
    )
    identity = "\x1f".join((p["code"], p["file"], str(p["line"] or 0), p["element"] or "", p["message"]))
    hint = f"修改建议：{p['hint']}" if p["hint"] else ""
    return {
        "ruleId": p["code"],
        "ruleIndex": index[p["code"]],
        "level": "error",
        "message": {"text": f"{p['message'].rstrip('.。')}。{hint}"},
        "locations": [{"physicalLocation": physical, "logicalLocations": logical}],
        "partialFingerprints": {"hennanFlowFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"validate": True, "code": p["code"], "hint": p["hint"]},
    }


def _scenarios(records: AuditRecords) -> list[dict[str, object]]:
    return [
        {
            "bundle": b["key"],
            "file": b["file"],
            "note": b["scenario_note"],
            "scenarios": [
                {
                    "name": sc["name"],
                    "choices": [c["name"] for c in sc["choices"]],
                    "checklist": [c["name"] for c in sc["checklist"]],
                }
                for sc in b["scenarios"]
            ],
        }
        for b in records["bundles"]
        if b["audited"]
    ]


def _result(f: FindingRecord, index: dict[str, int], artifacts: dict[str, int]) -> Result:
    bundle = f["bundle"] or ""
    logical: list[LogicalLocation] = [
        {"name": f["element"], "fullyQualifiedName": f"{bundle}/{f['element']}", "kind": "element"}
    ]
    if f["material"]:
        logical.append(
            {
                "name": f["material"],
                "fullyQualifiedName": f"{bundle}/{f['element']}/{f['material']}",
                "kind": "element",
            }
        )
    physical: PhysicalLocation = {
        "artifactLocation": {"uri": file_uri(f["file"]), "index": artifacts[f["file"]]}
    }
    if f["line"]:
        physical["region"] = {"startLine": f["line"]}
    identity = "\x1f".join((f["rule"], bundle, f["element"], f["material"] or "", f["quoted"]))
    return {
        "ruleId": f["rule"],
        "ruleIndex": index[f["rule"]],
        "level": _level(f["severity"]),
        "message": {"text": f"{f['message']}。修改建议：{f['fix']}"},
        "locations": [{"physicalLocation": physical, "logicalLocations": logical}],
        "partialFingerprints": {"hennanFlowFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {
            "quoted": f["quoted"],
            "fix": f["fix"],
            "bundle": f["bundle"],
            "element": f["element"],
            "material": f["material"],
            "verdict": f["verdict"],
        },
    }


def sarif_log(records: AuditRecords, *, help_base: str | None = None) -> SarifLog:
    """The SARIF 2.1.0 log of an audit record. `help_base` (a URL of docs/audit.md) adds helpUri."""
    rules = records["rules"]
    index = {r["id"]: i for i, r in enumerate(rules)}
    codes = sorted({p["code"] for p in records["validation"]})
    index.update({code: len(rules) + i for i, code in enumerate(codes)})
    files = sorted({f["file"] for f in records["findings"]} | {p["file"] for p in records["validation"]})
    artifacts = {name: i for i, name in enumerate(files)}
    version = records["tool"]["version"]
    driver: ToolComponent = {
        "name": "hennan-flow audit",
        "version": version,
        "rules": [_descriptor(r, help_base) for r in rules] + [_validate_descriptor(c) for c in codes],
    }
    results = [_validation_result(p, index, artifacts) for p in records["validation"]]
    results += [_result(f, index, artifacts) for f in records["findings"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "artifacts": [{"location": {"uri": file_uri(name)}} for name in files],
                "invocations": [{"executionSuccessful": True}],
                "results": results,
                "properties": {"scenarios": _scenarios(records)},
            }
        ],
    }


def render_sarif(records: AuditRecords, *, help_base: str | None = None) -> str:
    """The SARIF log as one JSON document."""
    return json.dumps(sarif_log(records, help_base=help_base), ensure_ascii=False, indent=2) + "\n"
