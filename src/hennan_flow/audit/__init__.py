"""The 五个一律 material audit (DESIGN §3): rules R1–R8 and R10 over hf: bundles, no database.

Usage::

    from hennan_flow.audit import audit_paths, load_catalog
    report = audit_paths(["processes/"], catalog=load_catalog(["county.toml"]))
    report.has_errors          # deploy refuses bundles with audit errors
    for b in report.bundles:   # per bundle: verdicts, the applicant's checklist, reduction figures
        print(b.key, b.figures.before, "→", b.figures.after)
"""

from __future__ import annotations

from .catalog import Catalog, CatchAll, CoveredPair, ELicence, load_catalog
from .checker import audit_bundle, audit_document, audit_paths, default_rules
from .finding import Finding, Severity, Verdict
from .graph import FlowGraph
from .names import Normalizer
from .registry import BaseRule, BundleContext, Rule, RuleInfo, RuleSet, describe
from .result import AuditReport, BundleAudit, Figures, MaterialVerdict, StepAudit

__all__ = [
    "AuditReport",
    "BaseRule",
    "BundleAudit",
    "BundleContext",
    "Catalog",
    "CatchAll",
    "CoveredPair",
    "ELicence",
    "Figures",
    "Finding",
    "FlowGraph",
    "MaterialVerdict",
    "Normalizer",
    "Rule",
    "RuleInfo",
    "RuleSet",
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
