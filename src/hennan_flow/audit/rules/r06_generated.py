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

    **Anti-pattern**: step 印章刻制备案 asks for `name="营业执照"` although step 企业设立登记, which runs
    before it, has `result="营业执照"`.

    **Best practice**: `<hf:material id="licence_for_seal" name="营业执照" … producedBy="register"/>`
    — the licence is passed inside the case.
    """

    id = "R6"
    name = "generated"
    severity = "error"
    summary = (
        "A material that an earlier step issues must be declared producedBy (generated); producedBy "
        "must name a step that runs before."
    )
    source = "(consistency)"

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
                    message=f"the bundle asks for “{m.name}”, which step {producer.id} ({producer.name}) "
                    "issues earlier in the case; it is passed from that result",
                    fix=f'add producedBy="{producer.id}" to the material so the applicant is not asked',
                    verdict="generated",
                    related=producer.id,
                )
                continue
            step = ctx.step(m.produced_by)
            if step is None:
                why = "which is no step of this bundle"
            elif m.produced_by == m.step:
                why = "the material's own step, which cannot issue it before it is asked"
            elif graph.runs_before(m.step, m.produced_by):
                why = f"which runs after step {m.step}"
            else:
                why = f"which is not on every path to step {m.step} (another branch)"
            yield self.material_finding(
                ctx,
                m,
                quoted=f'producedBy="{m.produced_by}"',
                message=f"producedBy of “{m.name}” names step {m.produced_by}, {why}: the result may not "
                "exist yet, so the applicant is still asked for it",
                fix=f"point producedBy at a step that runs before step {m.step} on every path, or remove "
                "producedBy and keep collecting the material",
                verdict=None,
            )
