"""Plain-text audit report: grouped by bundle and step, colour on a terminal."""

from __future__ import annotations

import click

from .records import AuditRecords, BundleRecord, FindingRecord, findings_by_element

__all__ = ["render_text"]

# (colour, bold)
_SEVERITY_STYLE = {"error": ("red", True), "warning": ("yellow", False), "note": ("cyan", False)}
_VERDICT_STYLE = {
    "keep": (None, False),
    "cancel": ("red", False),
    "exempt": ("green", False),
    "generated": ("blue", False),
}


def _figures(r: BundleRecord) -> str:
    parts = []
    if r["exempt_e_license"]:
        parts.append(f"{r['exempt_e_license']} exempt by e-licence")
    if r["exempt_commitment"]:
        parts.append(f"{r['exempt_commitment']} exempt by commitment")
    if r["cancelled"]:
        parts.append(f"{r['cancelled']} cancelled")
    if r["generated"]:
        parts.append(f"{r['generated']} generated in the case")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"materials {r['materials_before']} → {r['materials_after']}{detail}"


def render_text(records: AuditRecords, *, color: bool = False) -> str:
    """The report as text; `color` adds ANSI styles (the CLI sets it on a terminal only)."""

    def style(text: str, fg: str | None = None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold) if color and (fg or bold) else text

    def finding_lines(f: FindingRecord, indent: str) -> list[str]:
        where = f"{f['file']}:{f['line']}" if f["line"] else f["file"]
        sev = style(f["severity"], *_SEVERITY_STYLE.get(f["severity"], (None, False)))
        what = f" material {f['material']}:" if f["material"] else ":"
        return [
            f"{indent}{where}: {sev} {style(f['rule'], bold=True)}{what} {f['message']}",
            f"{indent}    quoted: {f['quoted']}",
            f"{indent}    fix: {f['fix']}",
        ]

    out: list[str] = []
    plain = 0
    for b in records["bundles"]:
        if not b["audited"]:
            plain += 1
            continue
        grouped = findings_by_element(records, b)
        counts = f"{b['errors']} error(s), {b['warnings']} warning(s), {b['notes']} note(s)"
        out.append(style(f"{b['file']}: {b['name']} ({b['key']})", bold=True) + f" — {_figures(b)}; {counts}")
        for f in grouped.pop(b["key"], []):
            out += finding_lines(f, "  ")
        for s in b["per_step"]:
            out.append(
                f"  step {s['step']} {s['name']}"
                + (f" [{s['department']}]" if s["department"] else "")
                + f": {s['materials_before']} → {s['materials_after']}"
            )
            for f in grouped.pop(s["step"], []):
                out += finding_lines(f, "    ")
            for m in b["materials"]:
                if m["step"] != s["step"]:
                    continue
                verdict = style(f"{m['verdict']:<9}", *_VERDICT_STYLE.get(m["verdict"], (None, False)))
                rules = f" ({', '.join(m['rules'])})" if m["rules"] else ""
                out.append(f"    {verdict} {m['material']} “{m['name']}”{rules}")
        for element, rest in grouped.items():  # findings on other elements
            out.append(f"  element {element}")
            for f in rest:
                out += finding_lines(f, "    ")
        if b["checklist"]:
            out.append("  applicant's checklist after reduction:")
            for c in b["checklist"]:
                note = (
                    f" (容缺, supply within {c['supplement_within']} working days)"
                    if c["necessity"] == "tolerable"
                    else ""
                )
                note = note or (" (optional)" if c["necessity"] == "optional" else "")
                out.append(f"    - {c['name']} [{c['step']}/{c['material']}]{note}")
        else:
            out.append("  applicant's checklist after reduction: nothing to bring")
        out.append("")
    total = records["summary"]
    verdict = style("clean", fg="green") if total["clean"] else style("not clean", fg="red", bold=True)
    tail = f"; {plain} plain BPMN process(es) without hf: materials" if plain else ""
    out.append(
        f"{total['files']} file(s), {total['bundles']} bundle(s): {verdict} — {total['errors']} error(s), "
        f"{total['warnings']} warning(s), {total['notes']} note(s); materials {total['materials_before']} → "
        f"{total['materials_after']}{tail}"
    )
    return "\n".join(out)
