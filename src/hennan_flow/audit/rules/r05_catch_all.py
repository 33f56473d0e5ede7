"""R5: cancel a material named with catch-all wording (其他、有关…)."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["CatchAllRule"]


class CatchAllRule(BaseRule):
    """Cancel a material whose name is catch-all wording (其他, 有关, 相关, 等材料, 视情况…).

    The catalogue (`[catch_all]`) lists the phrases and patterns; names are compared after
    traditional → simplified conversion, so 其他有關材料 is caught like 其他有关材料.

    **Anti-pattern**: `<hf:material id="other_docs" name="其他有关材料" …/>` — 申请人无从知道应提交什么，窗口可以随意要求补充。

    **Best practice**: 逐项写明法律法规要求的材料（`name="股东会决议"`），或删除该项。
    """

    id = "R5"
    name = "catch_all"
    severity = "error"
    summary = "名称含“其他、有关”等兜底表述的材料，予以取消。"
    source = "“其他、有关”等模糊字段、兜底条款一律取消"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            word = ctx.catalog.catch_all_in(m.name)
            if word is not None:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=word,
                    message=f"材料“{m.name}”含兜底表述“{word}”，予以取消",
                    fix="写明法律法规要求的具体材料名称，或删除该材料",
                    verdict="cancel",
                )
