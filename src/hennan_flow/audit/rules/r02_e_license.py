"""R2: exempt a material that an e-licence or an online check proves."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext
from ..result import bring_if_older
from ..wording import day

__all__ = ["ELicenseRule"]


class ELicenseRule(BaseRule):
    """Exempt what an e-licence or an online check proves; flag an e-licence that is not declared.

    A material with `eLicense` (电子证照 type) or `onlineCheck` (shared-data source) declared is
    exempt: the department fetches it, the applicant is not asked (a note). A material whose name
    matches the e-licence catalogue (after normalization: traditional → simplified, holder prefixes
    and copy markers stripped; never a form's name) but declares neither is an error: as written, the
    applicant would be asked for paper.

    A catalogue entry with `since = DATE` (新申领的不动产权证书、结(离)婚证) proves only certificates
    issued since then: such a material stays on the checklist, marked "issued before DATE: bring it"
    (a note; an `onlineCheck` of the registry, which holds old records too, still exempts it).

    **Anti-pattern**: `<hf:material id="legal_rep_id" name="法定代表人身份证复印件" necessity="required"
    source="government" …/>` — 电子证照库已有的身份证，仍要求提交纸质材料。

    **Best practice**: `<hf:material id="legal_rep_id" name="法定代表人身份证" … eLicense="居民身份证"/>`
    — 窗口调取电子证照，申请人无需携带。
    """

    id = "R2"
    name = "e_license"
    severity = "error"
    summary = "能以电子证照或在线核验证明的材料免于提交；名称与电子证照目录相符却未作声明的，为错误。"
    source = "能够通过电子证照证明或在线政务服务平台核验核查的材料一律免于提交"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            dated = ctx.dated_licence(m)
            if m.e_license or m.online_check:
                quoted = f'eLicense="{m.e_license}"' if m.e_license else f'onlineCheck="{m.online_check}"'
                if dated is not None and dated.since is not None:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=quoted,
                        message=f"材料“{m.name}”属{dated.name}，{day(dated.since)}起颁发的证书才有电子证照，"
                        f"证书颁发早于该日的申请人仍需携带（{bring_if_older(dated.since)}）",
                        fix="无需修改；部门能在线核验较早颁发的证书的，可为该材料声明登记信息的 onlineCheck（在线核验）",
                        verdict=None,
                        severity="note",
                    )
                    continue
                how = f"电子证照“{m.e_license}”" if m.e_license else f"在线核验“{m.online_check}”"
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=quoted,
                    message=f"材料“{m.name}”免于提交：{how}可证明，不再要求申请人提供",
                    fix="无需修改；受理时窗口调取",
                    verdict="exempt",
                    severity="note",
                )
                continue
            licence = ctx.catalog.e_licence_for(m.name)
            if licence is not None:
                older = (
                    f"（{day(licence.since)}起颁发的证书才有电子证照，较早颁发的仍列入清单）"
                    if licence.since is not None
                    else ""
                )
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"材料“{m.name}”属{licence.name}，可由电子证照证明{older}，但该材料未声明 eLicense "
                    "或 onlineCheck，申请人仍会被要求提交纸质材料",
                    fix=f'在该材料上声明 eLicense="{licence.name}"，不再要求申请人提交',
                    verdict="exempt" if licence.since is None else None,
                )
