"""R7: a tolerable (容缺) material needs a deadline within the step's promised limit."""

from __future__ import annotations

from collections.abc import Iterator

from ...bpmn.bundle import TimeLimit
from ..finding import Finding
from ..registry import BaseRule, BundleContext
from ..wording import span

__all__ = ["TolerableRule"]


def beyond(within: int, limit: TimeLimit) -> bool:
    """True when `within` working days certainly end after the promised limit.

    N working days span at least N natural days (at least 24·N hours), so the comparison is exact
    for workday limits and conservative for natural-day and hour limits.
    """
    if limit.promised is None:
        return False
    if limit.unit == "hour":
        return within * 24 > limit.promised
    return within > limit.promised


class TolerableRule(BaseRule):
    """Flag a tolerable (容缺后补) material without a supplement deadline, or with one past the step's limit.

    `necessity="tolerable"` lets the window accept the case without the material; the applicant
    supplies it within `supplementWithin` working days, which must fit inside the step's promised
    limit (otherwise the step is due before the material is). Verdicts are unchanged.

    **Anti-pattern**: `<hf:material id="lease" name="租赁合同" necessity="tolerable" …/>` 未写 supplementWithin，或承诺 3 个工作日办结的环节写 supplementWithin="10"。

    **Best practice**: `necessity="tolerable" supplementWithin="2"`，所在环节为
    `<hf:timeLimit legal="5" promised="3" unit="workday"/>`。
    """

    id = "R7"
    name = "tolerable"
    severity = "error"
    summary = "容缺后补材料须写明补交期限（supplementWithin），且不超过本环节承诺时限。"
    source = "（一致性检查）"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            if m.necessity != "tolerable":
                continue
            if m.supplement_within is None:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted='necessity="tolerable"',
                    message=f"材料“{m.name}”为容缺后补材料，但未写明补交期限（supplementWithin），"
                    "无法确定申请人应在何时补交",
                    fix='添加 supplementWithin="N"（工作日数，不超过本环节承诺时限）',
                    verdict=None,
                )
                continue
            step = ctx.step(m.step)
            limit = step.time_limit if step is not None else None
            if limit is not None and beyond(m.supplement_within, limit):
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=f'supplementWithin="{m.supplement_within}"',
                    message=f"材料“{m.name}”的补交期限为 {m.supplement_within} 个工作日，超过本环节承诺时限 "
                    f"{span(limit.promised, limit.unit)}",
                    fix=f"将 supplementWithin 设为不超过承诺时限（{span(limit.promised, limit.unit)}），"
                    '或将该材料改为必交（necessity="required"）',
                    verdict=None,
                )
