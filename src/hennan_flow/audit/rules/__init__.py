"""The rules of the 五个一律 audit (DESIGN §3, §12), one module each, named by id.

Each module has a case file beside it (`rNN_name.toml`) whose named pass and fail cases document the
rule and are run by the test suite.
"""

from __future__ import annotations

from ..registry import Rule
from .r01_legal_basis import LegalBasisRule
from .r02_e_license import ELicenseRule
from .r03_commitment import CommitmentRule
from .r04_covered import CoveredRule
from .r05_catch_all import CatchAllRule
from .r06_generated import GeneratedRule
from .r07_tolerable import TolerableRule
from .r08_time_limit import TimeLimitRule
from .r10_vague_basis import VagueBasisRule
from .r11_legal_citation import LegalCitationRule

__all__ = [
    "CatchAllRule",
    "CommitmentRule",
    "CoveredRule",
    "ELicenseRule",
    "GeneratedRule",
    "LegalBasisRule",
    "LegalCitationRule",
    "TimeLimitRule",
    "TolerableRule",
    "VagueBasisRule",
    "rule_classes",
]


def rule_classes() -> tuple[type[Rule], ...]:
    """Every rule class, in id order (R1…R8, R10, R11; there is no R9)."""
    return (
        LegalBasisRule,
        ELicenseRule,
        CommitmentRule,
        CoveredRule,
        CatchAllRule,
        GeneratedRule,
        TolerableRule,
        TimeLimitRule,
        VagueBasisRule,
        LegalCitationRule,
    )
