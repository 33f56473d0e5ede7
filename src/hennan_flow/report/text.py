"""Plain-text audit report: validate errors first, then grouped by bundle and step, with the applicant's
checklist per scenario; colour on a terminal."""

from __future__ import annotations

import click

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


def _figures(r: BundleRecord) -> str:
    parts = []
    if r["cancelled"]:
        parts.append(f"{r['cancelled']} cancelled")
    if r["exempt_e_license"]:
        parts.append(f"{r['exempt_e_license']} exempt by e-licence or online check")
    if r["exempt_commitment"]:
        parts.append(f"{r['exempt_commitment']} exempt by commitment")
    if r["generated"]:
        parts.append(f"{r['generated']} generated in the case")
    if r["online_form"]:
        parts.append(f"{r['online_form']} online form(s)")
    detail = f" ({', '.join(parts)})" if parts else ""
    extra = []
    if r["conditional"]:
        extra.append(f"{r['conditional']} only if older than the e-licence")
    if r["commitments"]:
        extra.append(f"{r['commitments']} commitment letter(s) to sign")
    more = f"; {', '.join(extra)}" if extra else ""
    return f"materials {r['materials_before']} → {r['materials_after']}{detail}{more}"


def _entry(c: ChecklistRecord) -> str:
    if c["kind"] == "commitment":
        note = " (sign at the window)"
    elif c["condition"]:
        note = f" (conditional: {c['condition']})"
    elif c["necessity"] == "tolerable":
        note = f" (容缺, supply within {c['supplement_within']} working days)"
    else:
        note = " (optional)" if c["necessity"] == "optional" else ""
    return f"- {c['name']} [{c['step']}/{c['material']}]{note}"


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
    if records["validation"]:
        out.append(
            style(
                f"validate: {len(records['validation'])} error(s); a file validate rejects is not clean",
                bold=True,
            )
        )
        for p in records["validation"]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            element = f' element "{p["element"]}":' if p["element"] else ""
            hint = f" hint: {p['hint']}" if p["hint"] else ""
            out.append(
                f"  {where}: {style('error', *_SEVERITY_STYLE['error'])} {p['code']}{element} {p['message']}{hint}"
            )
        out.append("")
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
        if b["online_forms"]:
            out.append(
                "  collected online by the steps' own forms (not on the checklist): "
                + "; ".join(f"{o['name']} [{o['step']}]" for o in b["online_forms"])
            )
        for sc in b["scenarios"]:
            choices = "; ".join(f"{c['gateway_name'] or c['gateway']} → {c['name']}" for c in sc["choices"])
            head = f"  applicant's checklist, scenario “{sc['name']}”" + (f" ({choices})" if choices else "")
            if sc["checklist"]:
                out.append(f"{head}: {len(sc['checklist'])} item(s)")
                out += [f"    {_entry(c)}" for c in sc["checklist"]]
            else:
                out.append(f"{head}: nothing to bring")
        if b["scenario_note"]:
            out.append(f"  note: {b['scenario_note']}")
        if len(b["scenarios"]) > 1 or not b["scenarios"]:
            if b["checklist"]:
                out.append("  union checklist (every scenario):")
                out += [f"    {_entry(c)}" for c in b["checklist"]]
            else:
                out.append("  union checklist (every scenario): nothing to bring")
        out.append("")
    total = records["summary"]
    if total["audited"] == 0 and total["clean"]:
        verdict = style("nothing audited (no hf: dialect)", fg="yellow")
    else:
        verdict = style("clean", fg="green") if total["clean"] else style("not clean", fg="red", bold=True)
    tail = f"; {plain} plain BPMN process(es) without hf: materials, not audited" if plain else ""
    if total["validation_errors"]:
        tail += f"; {total['validation_errors']} validate error(s)"
    out.append(
        f"{total['files']} file(s), {total['bundles']} bundle(s): {verdict} — {total['errors']} error(s), "
        f"{total['warnings']} warning(s), {total['notes']} note(s); materials {total['materials_before']} → "
        f"{total['materials_after']}{tail}"
    )
    return "\n".join(out)
