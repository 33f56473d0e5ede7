"""R4: cancel a material that another material covers or replaces."""

from __future__ import annotations

from collections.abc import Iterator

from ...bpmn.bundle import Material
from ..catalog import CoveredPair
from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["CoveredRule"]


class CoveredRule(BaseRule):
    """Cancel a material that another one covers: declared, asked again, or a known covered pair.

    Three ways (DESIGN §3):

    * `coveredBy` names another collected material of the bundle (in a coverage cycle, the
      material first in document order stays);
    * the same material (same normalized name, or same `eLicense`) is asked again by another step:
      when one step runs before the other, the later occurrence is cancelled; when neither runs before
      the other but both lie on every path to the end (parallel branches), the one later in document
      order is cancelled; occurrences on exclusive alternatives are never cancelled;
    * a known covered pair of the catalogue: a copy (身份证复印件) when the original or its e-licence
      (居民身份证) is collected in the same case path; 组织机构代码证/税务登记证/社会保险登记证, merged into
      the 营业执照 by 多证合一, always.

    **Anti-pattern**: 环节“企业设立登记”已收取法定代表人身份证，其后的环节“银行预约开户”再次要求提交；或多证合一后仍要求提交税务登记证。

    **Best practice**: 只在第一个需要的环节收取一次，后续环节从办件中读取（环节出具的证照声明 `producedBy`）。
    """

    id = "R4"
    name = "covered"
    severity = "error"
    summary = "能被其他材料涵盖或代替的材料（已声明涵盖、重复收取、目录中的对应材料），予以取消。"
    source = "能被其他材料涵盖或者代替的材料一律取消"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        yield from self._declared(ctx)
        yield from self._asked_again(ctx)
        yield from self._known_pairs(ctx)

    # -- coveredBy ---------------------------------------------------------------------------------
    def _declared(self, ctx: BundleContext) -> Iterator[Finding]:
        collected = {m.id: m for m in ctx.collected}
        order = ctx.doc_order
        edges = {m.id: [c for c in m.covered_by if c in collected and c != m.id] for m in ctx.collected}

        def reaches(start: str, goal: str) -> bool:
            seen, todo = {start}, [start]
            while todo:
                for nxt in edges.get(todo.pop(), []):
                    if nxt == goal:
                        return True
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            return False

        for m in ctx.collected:
            covers = [
                collected[c]
                for c in edges[m.id]
                if not (reaches(c, m.id) and order[m.id] < order[c])  # first of a cycle stays
            ]
            if not covers:
                continue
            names = "、".join(f"“{c.name}”（{c.id}，环节 {c.step}）" for c in covers)
            yield self.material_finding(
                ctx,
                m,
                quoted=f'coveredBy="{" ".join(m.covered_by)}"',
                message=f"材料“{m.name}”已被本事项收取的{names}涵盖，予以取消",
                fix=f"从环节 {m.step} 删除“{m.name}”，由涵盖它的材料代替",
                verdict="cancel",
                related=covers[0].id,
            )

    # -- the same material asked again -------------------------------------------------------------
    def _asked_again(self, ctx: BundleContext) -> Iterator[Finding]:
        graph = ctx.graph
        order = ctx.doc_order
        mats = ctx.collected
        for later in mats:
            for earlier in mats:
                if earlier.step == later.step or not _same(ctx, earlier, later):
                    continue
                if graph.runs_before(earlier.step, later.step):
                    how = f"环节 {earlier.step} 在环节 {later.step} 之前办理"
                elif (
                    not graph.runs_before(later.step, earlier.step)
                    and graph.always(earlier.step)
                    and graph.always(later.step)
                    and order[earlier.id] < order[later.id]
                ):
                    how = f"环节 {earlier.step} 与环节 {later.step} 在每个办件中都会办理（并行分支）"
                else:
                    continue
                yield self.material_finding(
                    ctx,
                    later,
                    quoted=later.name,
                    message=f"材料“{later.name}”重复收取：环节 {earlier.step} 已收取“{earlier.name}”"
                    f"（{earlier.id}），且{how}，予以取消",
                    fix=f"从环节 {later.step} 删除“{later.name}”，改为从办件中读取（已在环节 {earlier.step} 收取一次）",
                    verdict="cancel",
                    related=earlier.id,
                )
                break  # one finding per material, citing the first occurrence that covers it

    # -- known covered pairs -----------------------------------------------------------------------
    def _known_pairs(self, ctx: BundleContext) -> Iterator[Finding]:
        catalog, graph = ctx.catalog, ctx.graph
        for m in ctx.collected:
            for pair in catalog.covered_pairs_for(m.name):
                if pair.unconditional:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=m.name,
                        message=f"材料“{m.name}”已被{'、'.join(pair.by)}涵盖，予以取消{_why(pair)}",
                        fix=f"从环节 {m.step} 删除“{m.name}”"
                        + (f"，由{pair.by[0]}（统一社会信用代码）代替" if pair.by else ""),
                        verdict="cancel",
                    )
                    break
                cover = next(
                    (
                        other
                        for other in ctx.collected
                        if other.id != m.id
                        and catalog.covers(pair, other.name, other.e_license)
                        and not (other.step != m.step and _same(ctx, m, other))  # asked again: above
                        and graph.accompanies(m.step, other.step)
                    ),
                    None,
                )
                if cover is None:
                    continue
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"材料“{m.name}”已被“{cover.name}”（{cover.id}，环节 {cover.step}）涵盖，"
                    f"予以取消{_why(pair)}",
                    fix=f"从环节 {m.step} 删除“{m.name}”，由“{cover.name}”代替",
                    verdict="cancel",
                    related=cover.id,
                )
                break


def _why(pair: CoveredPair) -> str:
    """The catalogue's reason for a covered pair, after a colon (nothing when the county gave none)."""
    return f"：{pair.reason}" if pair.reason else ""


def _same(ctx: BundleContext, a: Material, b: Material) -> bool:
    """DESIGN §3 "same material": same normalized name, or same eLicense."""
    name_a = ctx.normalized(a.name)
    if name_a and name_a == ctx.normalized(b.name):
        return True
    if a.e_license and b.e_license:
        return ctx.normalized(a.e_license) == ctx.normalized(b.e_license) or (
            ctx.catalog.e_licence_key(a.e_license) == ctx.catalog.e_licence_key(b.e_license)
        )
    return False
