"""Rules and the rule set: a rule is a small module that describes itself (STYLE (c) 10).

A rule has an `id` (R1…R10, never reused), a `name`, a default `severity`, a one-line `summary`, the
五个一律 `source` text it enforces, and a docstring whose **Anti-pattern** and **Best practice**
sections document it. It implements `check(ctx) -> Iterator[Finding]` over one bundle. A `RuleSet`
holds rule instances and refuses a second rule with an id it already has.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from typing import Protocol, TypeVar, runtime_checkable

from ..bpmn.bundle import Bundle, LegalBasis, Material, Step
from .catalog import Catalog, ELicence
from .finding import SEVERITIES, Finding, Severity, Verdict, rule_order
from .graph import FlowGraph

__all__ = ["BaseRule", "BundleContext", "Rule", "RuleInfo", "RuleSet", "describe"]

_ID = re.compile(r"R[1-9][0-9]*")


@runtime_checkable
class Rule(Protocol):
    """What the audit needs of a rule (read-only attributes and `check`)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def summary(self) -> str: ...
    @property
    def source(self) -> str: ...

    def check(self, ctx: BundleContext) -> Iterator[Finding]: ...


@dataclass(frozen=True)
class RuleInfo:
    """A rule's documentation, as `--list-rules`, SARIF and the HTML report show it."""

    id: str
    name: str
    severity: Severity
    summary: str
    source: str
    description: str
    anti_pattern: str
    best_practice: str


def _section(doc: str, title: str) -> str:
    found = re.search(rf"\*\*{title}\*\*[:.]?\s*(.*?)(?=\n\s*\*\*|\Z)", doc, re.S)
    return " ".join(found.group(1).split()) if found else ""


def describe(rule: Rule) -> RuleInfo:
    """The documentation of a rule, read from its attributes and docstring."""
    return _describe(type(rule), rule.id, rule.name, rule.severity, rule.summary, rule.source)


@cache
def _describe(cls: type, rule_id: str, name: str, severity: Severity, summary: str, source: str) -> RuleInfo:
    # every audit of every file lists the rules: their docstrings are read once per rule
    doc = inspect.getdoc(cls) or ""
    body = doc.split("**", 1)[0].strip()
    return RuleInfo(
        id=rule_id,
        name=name,
        severity=severity,
        summary=summary,
        source=source,
        description=" ".join(body.split()),
        anti_pattern=_section(doc, "Anti-pattern"),
        best_practice=_section(doc, "Best practice"),
    )


R = TypeVar("R")


class RuleSet:
    """An ordered set of rules, keyed by id; a duplicate id is refused.

    Usage::

        rules = RuleSet()
        rules.register(LegalBasis())
        rules.register(LegalBasis())   # ValueError: rule R1 has already been registered
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: dict[str, Rule] = {}
        for rule in rules:
            self.register(rule)

    def register(self, rule: R) -> R:
        """Add a rule (an instance, or a class that is instantiated); usable as a class decorator."""
        instance = rule() if inspect.isclass(rule) else rule
        # BaseRule subclasses have the attributes; the structural (Protocol) check is slow, so it is
        # kept for rules written without BaseRule
        if not isinstance(instance, BaseRule) and not isinstance(instance, Rule):
            raise TypeError(f"{rule!r} is not a rule (needs id, name, severity, summary, source, check)")
        if not _ID.fullmatch(instance.id):
            raise ValueError(f"rule id {instance.id!r} is not of the form R<number>")
        if instance.severity not in SEVERITIES:
            raise ValueError(f"rule {instance.id}: severity {instance.severity!r} is not one of {SEVERITIES}")
        if instance.id in self._rules:
            raise ValueError(f"rule {instance.id} has already been registered ({self._rules[instance.id]!r})")
        self._rules[instance.id] = instance
        return rule

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: rule_order(r.id)))

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self)

    def select(self, ids: Iterable[str]) -> RuleSet:
        """A new set with only these rules (unknown ids raise KeyError)."""
        return RuleSet(self._rules[i] for i in ids)

    def infos(self) -> tuple[RuleInfo, ...]:
        return tuple(describe(r) for r in self)


@dataclass
class BundleContext:
    """What a rule sees of one bundle: the model, the catalogue and the flow order.

    A material is *collected* unless it has a valid `producedBy` (a step that runs before it); such a
    material is *generated* and no rule reports on it (DESIGN §3).
    """

    bundle: Bundle
    catalog: Catalog
    today: date = field(default_factory=date.today)  # R11: a document repealed on or before today
    _names: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def graph(self) -> FlowGraph:
        return FlowGraph.of(self.bundle)

    @property
    def file(self) -> str:
        return self.bundle.file

    def step(self, step_id: str) -> Step | None:
        return self.bundle.step(step_id)

    def materials(self) -> Iterator[Material]:
        """Every declared material in document order."""
        return self.bundle.materials()

    def produced_validly(self, material: Material) -> bool:
        """True when `producedBy` names a step that runs before the material's step."""
        producer = material.produced_by
        return (
            producer is not None
            and self.bundle.step(producer) is not None
            and self.graph.runs_before(producer, material.step)
        )

    @cached_property
    def collected(self) -> tuple[Material, ...]:
        """The materials asked of the applicant as declared (all but the validly generated ones)."""
        return tuple(m for m in self.materials() if not self.produced_validly(m))

    @cached_property
    def doc_order(self) -> dict[str, int]:
        return {m.id: i for i, m in enumerate(self.materials())}

    def licence_of(self, material: Material) -> ELicence | None:
        """The catalogue's e-licence for a material: its declared `eLicense`, else the one its name denotes."""
        if material.e_license:
            return self.catalog.declared_licence(material.e_license)
        return self.catalog.e_licence_for(material.name)

    def dated_licence(self, material: Material) -> ELicence | None:
        """The dated e-licence (`since`) that proves only newer certificates of this material, if any.

        An `onlineCheck` of the registry proves old and new alike, so such a material is never dated.
        """
        if material.online_check:
            return None
        licence = self.licence_of(material)
        return licence if licence is not None and licence.since is not None else None

    def level_of(self, basis: LegalBasis) -> str:
        """A legal basis's level: the catalogue's for a catalogued document, else the one declared."""
        law = self.catalog.law_for(basis.doc)
        return law.level if law is not None else basis.level

    def normalized(self, text: str) -> str:
        """The normalized form of a name (DESIGN §3 name matching), computed once per text."""
        found = self._names.get(text)
        if found is None:
            found = self._names[text] = self.catalog.normalizer.normalize(text)
        return found


class BaseRule:
    """Shared plumbing for the rule modules: attributes and a `finding` helper."""

    id: str
    name: str
    severity: Severity
    summary: str
    source: str

    def check(self, ctx: BundleContext) -> Iterator[Finding]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<rule {self.id} {self.name}>"

    def material_finding(
        self,
        ctx: BundleContext,
        material: Material,
        *,
        quoted: str,
        message: str,
        fix: str,
        verdict: Verdict | None,
        severity: Severity | None = None,
        line: int | None = None,
        related: str | None = None,
    ) -> Finding:
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            file=ctx.file,
            line=line or material.line,
            element=material.step,
            material=material.id,
            quoted=quoted,
            message=message,
            fix=fix,
            bundle=ctx.bundle.key,
            verdict=verdict,
            related=related,
        )

    def element_finding(
        self,
        ctx: BundleContext,
        element: str,
        line: int | None,
        *,
        quoted: str,
        message: str,
        fix: str,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            file=ctx.file,
            line=line,
            element=element,
            material=None,
            quoted=quoted,
            message=message,
            fix=fix,
            bundle=ctx.bundle.key,
            verdict=None,
        )
