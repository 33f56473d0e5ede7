"""R2: exempt a material that an e-licence or an online check proves."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext
from ..result import bring_if_older

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
    source="government" …/>` — an ID card the e-licence library holds, asked for on paper.

    **Best practice**: `<hf:material id="legal_rep_id" name="法定代表人身份证" … eLicense="居民身份证"/>`
    — the window fetches the e-licence and the applicant brings nothing.
    """

    id = "R2"
    name = "e_license"
    severity = "error"
    summary = (
        "A material an e-licence or online check proves is exempt; one that matches the e-licence "
        "catalogue without declaring it is an error."
    )
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
                        message=f"“{m.name}” is a {dated.name}, an e-licence only for certificates issued since "
                        f"{dated.since.isoformat()}: an applicant whose certificate is older still brings it "
                        f"({bring_if_older(dated.since)})",
                        fix="nothing to change; declare an onlineCheck of the registry if the department can "
                        "check older certificates online too",
                        verdict=None,
                        severity="note",
                    )
                    continue
                how = (
                    f"the e-licence “{m.e_license}”"
                    if m.e_license
                    else f"the online check “{m.online_check}”"
                )
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=quoted,
                    message=f"“{m.name}” is exempt: {how} proves it, so the applicant is not asked for it",
                    fix="nothing to change; the window fetches it at acceptance",
                    verdict="exempt",
                    severity="note",
                )
                continue
            licence = ctx.catalog.e_licence_for(m.name)
            if licence is not None:
                older = (
                    f" (only certificates issued since {licence.since.isoformat()} are electronic: older "
                    "ones stay on the checklist)"
                    if licence.since is not None
                    else ""
                )
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"“{m.name}” is a {licence.name}, which an e-licence proves{older}, but the material "
                    "declares no eLicense or onlineCheck, so the applicant would be asked for paper",
                    fix=f'declare eLicense="{licence.name}" on the material so the applicant is not asked',
                    verdict="exempt" if licence.since is None else None,
                )
