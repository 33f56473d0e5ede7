"""R6: a material the bundle issues itself is passed inside the case, never asked of the applicant."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["GeneratedRule"]


class GeneratedRule(BaseRule):
    """Flag a material the bundle issues itself, and a `producedBy` that cannot deliver it.

    Two checks (DESIGN §3; names compared normalized):

    * the material's name equals the `result` of a step that runs before it, yet it has no
      `producedBy`: the bundle asks the applicant for what it issued (error; the material becomes
      *generated*, passed from the earlier result);
    * its `producedBy` names a step that does not run before it (after it, itself, or only on some
      exclusive branches): the result may not exist yet (error; the material stays *kept*).

    A material with a valid `producedBy` is generated with no finding.

    **Anti-pattern**: 环节“印章刻制备案”要求提交 `name="营业执照"`，而在其之前办理的环节“企业设立登记”已出具 `result="营业执照"`。

    **Best practice**: `<hf:material id="licence_for_seal" name="营业执照" … producedBy="register"/>`
    — 营业执照在办件内部流转。
    """

    id = "R6"
    name = "generated"
    severity = "error"
    summary = "前序环节出具的材料应声明 producedBy（内部生成）；producedBy 须指向在其之前办理的环节。"
    source = "（一致性检查）"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        graph = ctx.graph
        norm = ctx.normalized
        issuers = [s for s in ctx.bundle.steps if s.result]
        for m in ctx.collected:
            if m.produced_by is None:
                name = norm(m.name)
                earlier = [
                    s for s in issuers if norm(s.result or "") == name and graph.runs_before(s.id, m.step)
                ]
                if not earlier or not name:
                    continue
                # the latest of the candidates: the one every other candidate runs before
                producer = next(
                    (p for p in earlier if all(o is p or graph.runs_before(o.id, p.id) for o in earlier)),
                    earlier[-1],
                )
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"本事项要求提交“{m.name}”，而环节 {producer.id}（{producer.name}）在此之前已出具，"
                    "应由该环节的办理结果内部流转",
                    fix=f'在该材料上声明 producedBy="{producer.id}"，不再要求申请人提交',
                    verdict="generated",
                    related=producer.id,
                )
                continue
            step = ctx.step(m.produced_by)
            if step is None:
                why = "本事项没有该环节"
            elif m.produced_by == m.step:
                why = "即该材料所在环节本身，收取前无法出具"
            elif graph.runs_before(m.step, m.produced_by):
                why = f"该环节在环节 {m.step} 之后办理"
            else:
                why = f"该环节不在通往环节 {m.step} 的每条路径上（属另一分支）"
            yield self.material_finding(
                ctx,
                m,
                quoted=f'producedBy="{m.produced_by}"',
                message=f"材料“{m.name}”的 producedBy 指向 {m.produced_by}，{why}：收取时该结果可能尚未产生，"
                "申请人仍需提交",
                fix=f"将 producedBy 指向在每条路径上都先于环节 {m.step} 办理的环节，或删除 producedBy、"
                "继续向申请人收取该材料",
                verdict=None,
            )
