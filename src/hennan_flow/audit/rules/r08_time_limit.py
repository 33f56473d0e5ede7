"""R8: promised limits within legal limits; every promised licence step has a legal limit."""

from __future__ import annotations

from collections.abc import Iterator

from ...bpmn.bundle import TimeLimit
from ..finding import Finding
from ..registry import BaseRule, BundleContext
from ..wording import span

__all__ = ["TimeLimitRule"]


class TimeLimitRule(BaseRule):
    """Flag a promised limit beyond the legal one, and a promised licence step (承诺件) with no legal limit.

    Checked on every step of a bundle that uses the hf: dialect (an immediate step, 即办件, needs no
    limit) and on the whole-case `hf:timeLimit` of the process. Only a licence step (行政许可,
    `hf:step category="licence"`, the default) must have a legal limit: a public service
    (`category="service"`) or another step often has none in any statute, and one must never be
    invented; such a step's red card comes from its `redAfter` rule alone. One `hf:timeLimit` has one unit, so
    promised and legal compare directly. Step-level: the finding has no material.

    **Anti-pattern**: `<hf:timeLimit legal="3" promised="5" unit="workday"/>`；或承诺件只写 `<hf:timeLimit promised="1" unit="workday"/>`，未设法定时限。

    **Best practice**: `<hf:timeLimit legal="20" promised="3" unit="workday"/>` — 法定时限，以及本县更短的承诺时限。
    """

    id = "R8"
    name = "time_limit"
    severity = "error"
    summary = "承诺时限不得超过法定时限；承诺件须设法定时限。"
    source = "（一致性检查）"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        bundle = ctx.bundle
        case = bundle.time_limit
        if (
            case is not None
            and case.legal is not None
            and case.promised is not None
            and case.promised > case.legal
        ):
            yield self._beyond_legal(ctx, bundle.key, case.line or bundle.line, case, "整件")
        for step in bundle.steps:
            if step.kind == "immediate":
                continue
            limit = step.time_limit
            if (limit is None or limit.legal is None) and step.category == "licence":
                quoted = f'promised="{limit.promised}"' if limit is not None else step.name
                yield self.element_finding(
                    ctx,
                    step.id,
                    (limit.line if limit is not None else None) or step.line,
                    quoted=quoted,
                    message=f"环节 {step.id}（{step.name}）为承诺件，但未设法定时限",
                    fix='在其 hf:timeLimit 上添加 legal="N"（法定时限）；当场办结的，改为 kind="immediate"'
                    '（即办件）；属公共服务、没有法定时限的，在其 hf:step 上写明 category="service"',
                )
            elif (
                limit is not None
                and limit.legal is not None
                and limit.promised is not None
                and limit.promised > limit.legal
            ):
                yield self._beyond_legal(ctx, step.id, limit.line or step.line, limit, f"环节 {step.id} ")

    def _beyond_legal(
        self, ctx: BundleContext, element: str, line: int | None, limit: TimeLimit, who: str
    ) -> Finding:
        """The finding for a promised limit over the legal one (`who`: "整件", "环节 ID ")."""
        return self.element_finding(
            ctx,
            element,
            line,
            quoted=f'legal="{limit.legal}" promised="{limit.promised}"',
            message=f"{who}承诺时限 {span(limit.promised, limit.unit)}，超过法定时限 {span(limit.legal, limit.unit)}",
            fix=f"承诺时限不得超过 {span(limit.legal, limit.unit)}，或更正法定时限",
        )
