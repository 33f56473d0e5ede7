"""Plain-text audit report: validate errors first, then grouped by bundle and step, with the applicant's
checklist per scenario; colour on a terminal."""

from __future__ import annotations

import click
from wcwidth import wcswidth

from ..audit.wording import SEVERITY_NAMES, VERDICT_NAMES, counts_text
from .records import AuditRecords, BundleRecord, ChecklistRecord, FindingRecord, findings_by_element

__all__ = ["render_text"]

# (colour, bold)
_SEVERITY_STYLE = {"error": ("red", True), "warning": ("yellow", False), "note": ("cyan", False)}
_VERDICT_STYLE = {
    "keep": (None, False),
    "cancel": ("red", False),
    "exempt": ("green", False),
    "generated": ("blue", False),
    "online_form": ("blue", False),
}
# the verdict column's display width: the widest name (a CJK character takes two terminal columns)
_VERDICT_WIDTH = max(wcswidth(name) for name in VERDICT_NAMES.values())


def _verdict_label(verdict: str) -> str:
    """The verdict's name padded to one column width by display width (an unknown code as written)."""
    name = VERDICT_NAMES.get(verdict, verdict)
    shown = wcswidth(name)
    return name + " " * max(_VERDICT_WIDTH - (shown if shown >= 0 else len(name)), 0)


def _figures(r: BundleRecord) -> str:
    parts = []
    if r["cancelled"]:
        parts.append(f"{r['cancelled']} 件取消")
    if r["exempt_e_license"]:
        parts.append(f"{r['exempt_e_license']} 件以电子证照或在线核验免交")
    if r["exempt_commitment"]:
        parts.append(f"{r['exempt_commitment']} 件以告知承诺免交")
    if r["generated"]:
        parts.append(f"{r['generated']} 件由本事项内生成")
    if r["online_form"]:
        parts.append(f"{r['online_form']} 件在线填报")
    detail = f"（{'，'.join(parts)}）" if parts else ""
    extra = []
    if r["conditional"]:
        extra.append(f"其中 {r['conditional']} 件视证照颁发时间提交")
    if r["commitments"]:
        extra.append(f"另需签署告知承诺书 {r['commitments']} 份")
    more = f"；{'，'.join(extra)}" if extra else ""
    return f"材料 {r['materials_before']} → {r['materials_after']} 件{detail}{more}"


def _entry(c: ChecklistRecord) -> str:
    if c["kind"] == "commitment":
        note = "（窗口当场签署）"
    elif c["condition"]:
        note = f"（{c['condition']}）"
    elif c["necessity"] == "tolerable":
        within = f"，受理后 {c['supplement_within']} 个工作日内补交" if c["supplement_within"] else ""
        note = f"（容缺后补{within}）"
    else:
        note = "（如有则交）" if c["necessity"] == "optional" else ""
    return f"- {c['name']} [{c['step']}/{c['material']}]{note}"


def render_text(records: AuditRecords, *, color: bool = False) -> str:
    """The report as text; `color` adds ANSI styles (the CLI sets it on a terminal only)."""

    def style(text: str, fg: str | None = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold) if color and (fg or bold) else text

    def finding_lines(f: FindingRecord, indent: str) -> list[str]:
        where = f"{f['file']}:{f['line']}" if f["line"] else f["file"]
        sev = style(
            SEVERITY_NAMES.get(f["severity"], f["severity"]),
            *_SEVERITY_STYLE.get(f["severity"], (None, False)),
        )
        what = f" 材料 {f['material']}：" if f["material"] else "："
        return [
            f"{indent}{where}: {sev} {style(f['rule'], bold=True)}{what}{f['message']}",
            f"{indent}    引文：{f['quoted']}",
            f"{indent}    修改建议：{f['fix']}",
        ]

    out: list[str] = []
    if records["validation"]:
        out.append(
            style(
                f"校验（validate）错误 {len(records['validation'])} 项；validate 不通过的文件不得视为审查通过",
                bold=True,
            )
        )
        for p in records["validation"]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            element = f' 元素 "{p["element"]}"：' if p["element"] else "："
            hint = f" 修改建议：{p['hint']}" if p["hint"] else ""
            error = style(SEVERITY_NAMES["error"], *_SEVERITY_STYLE["error"])
            out.append(f"  {where}: {error} {p['code']}{element}{p['message']}{hint}")
        out.append("")
    plain = 0
    for b in records["bundles"]:
        if not b["audited"]:
            plain += 1
            continue
        grouped = findings_by_element(records, b)
        counts = counts_text(b["errors"], b["warnings"], b["notes"])
        out.append(
            style(f"{b['file']}: {b['name']}（{b['key']}）", bold=True) + f" — {_figures(b)}；{counts}"
        )
        for f in grouped.pop(b["key"], []):
            out += finding_lines(f, "  ")
        for s in b["per_step"]:
            out.append(
                f"  环节 {s['step']} {s['name']}"
                + (f"（{s['department']}）" if s["department"] else "")
                + f"：材料 {s['materials_before']} → {s['materials_after']} 件"
            )
            for f in grouped.pop(s["step"], []):
                out += finding_lines(f, "    ")
            for m in b["materials"]:
                if m["step"] != s["step"]:
                    continue
                verdict = style(
                    _verdict_label(m["verdict"]), *_VERDICT_STYLE.get(m["verdict"], (None, False))
                )
                rules = f"（{'、'.join(m['rules'])}）" if m["rules"] else ""
                out.append(f"    {verdict} {m['material']} “{m['name']}”{rules}")
        for element, rest in grouped.items():  # findings on other elements
            out.append(f"  元素 {element}")
            for f in rest:
                out += finding_lines(f, "    ")
        if b["online_forms"]:
            out.append(
                "  在线填报（由本环节表单采集，不列入清单）："
                + "；".join(f"{o['name']} [{o['step']}]" for o in b["online_forms"])
            )
        for sc in b["scenarios"]:
            choices = "；".join(f"{c['gateway_name'] or c['gateway']} → {c['name']}" for c in sc["choices"])
            head = f"  申请人一次性告知清单，情形“{sc['name']}”" + (f"（{choices}）" if choices else "")
            if sc["checklist"]:
                out.append(f"{head}：{len(sc['checklist'])} 项")
                out += [f"    {_entry(c)}" for c in sc["checklist"]]
            else:
                out.append(f"{head}：无需提交材料")
        if b["scenario_note"]:
            out.append(f"  说明：{b['scenario_note']}")
        if len(b["scenarios"]) > 1 or not b["scenarios"]:
            if b["checklist"]:
                out.append(f"  合并清单（所有情形）：{len(b['checklist'])} 项")
                out += [f"    {_entry(c)}" for c in b["checklist"]]
            else:
                out.append("  合并清单（所有情形）：无需提交材料")
        out.append("")
    total = records["summary"]
    if total["audited"] == 0 and total["clean"]:
        verdict = style("未作审查（没有使用 hf: 扩展的事项）", fg="yellow")
    else:
        verdict = style("审查通过", fg="green") if total["clean"] else style("未通过", fg="red", bold=True)
    tail = f"；另有 {plain} 个普通 BPMN 流程未使用 hf: 材料扩展，未作审查" if plain else ""
    if total["validation_errors"]:
        tail += f"；校验（validate）错误 {total['validation_errors']} 项"
    out.append(
        f"{total['files']} 个文件，{total['bundles']} 个事项：{verdict} — "
        f"{counts_text(total['errors'], total['warnings'], total['notes'])}；"
        f"材料 {total['materials_before']} → {total['materials_after']} 件{tail}"
    )
    return "\n".join(out)
