"""The 五个一律 material audit (DESIGN §3, §12): rules R1–R8, R10 and R11 over hf: bundles, no database.

Usage::

    from hennan_flow.audit import audit_paths, load_catalog
    report = audit_paths(["processes/"], catalog=load_catalog(["county.toml"]))
    report.has_errors          # deploy refuses bundles with audit errors; validate errors count too
    for b in report.bundles:   # per bundle: verdicts, checklists per scenario, figures by reason
        print(b.key, b.figures.before, "→", b.figures.after)
        for scenario in b.scenarios:
            print(scenario.name, [entry.name for entry in scenario.checklist])
"""

from __future__ import annotations

from .catalog import Catalog, CatchAll, CoveredPair, ELicence, Law, load_catalog
from .checker import audit_bundle, audit_document, audit_paths, default_rules
from .finding import Finding, Severity, Verdict
from .graph import FlowGraph
from .names import Normalizer
from .registry import BaseRule, BundleContext, Rule, RuleInfo, RuleSet, describe
from .result import AuditReport, BundleAudit, ChecklistEntry, Figures, MaterialVerdict, Scenario, StepAudit
from .scenarios import Choice

__all__ = [
    "AuditReport",
    "BaseRule",
    "BundleAudit",
    "BundleContext",
    "Catalog",
    "CatchAll",
    "ChecklistEntry",
    "Choice",
    "CoveredPair",
    "ELicence",
    "Figures",
    "Finding",
    "FlowGraph",
    "Law",
    "MaterialVerdict",
    "Normalizer",
    "Rule",
    "RuleInfo",
    "RuleSet",
    "Scenario",
    "Severity",
    "StepAudit",
    "Verdict",
    "audit_bundle",
    "audit_document",
    "audit_paths",
    "default_rules",
    "describe",
    "load_catalog",
]
