"""`hennan-flow audit PATH...`: the 五个一律 material audit; exit 0 clean, 1 findings at --fail-on, 2 bad input.

Never opens a database. `--format` here (text | json | sarif | html) overrides the global one (text |
json). JSON and SARIF are exactly one document on stdout (or in `--output FILE`); the one-line summary
goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys

import click

from ._context import CliContext, output_option, pass_cli, write_report

__all__ = ["audit"]

FORMATS = ("text", "json", "sarif", "html")


def _write(text: str, output: str | None) -> None:
    write_report(text if text.endswith("\n") else text + "\n", output)


def _rules_text(fmt: str) -> str:
    from ..audit import default_rules

    infos = default_rules().infos()
    if fmt in ("json", "sarif", "html"):
        return json.dumps(
            [
                {
                    "id": r.id,
                    "name": r.name,
                    "severity": r.severity,
                    "source": r.source,
                    "summary": r.summary,
                    "anti_pattern": r.anti_pattern,
                    "best_practice": r.best_practice,
                }
                for r in infos
            ],
            ensure_ascii=False,
            indent=2,
        )
    from ..audit.wording import SEVERITY_NAMES

    lines = []
    for r in infos:
        lines.append(f"{r.id:<4} {r.name:<15} {SEVERITY_NAMES.get(r.severity, r.severity)}  {r.source}")
        lines.append(f"     {r.summary}")
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--format",
    "audit_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Report format (overrides the global --format): text, json, sarif or html.",
)
@output_option()
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(("error", "warning", "never")),
    default="error",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="County catalogue file (TOML) extending the packaged ones; repeatable.",
)
@click.option(
    "--forms",
    "forms_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the form schemas for the validate run (default: forms/ beside the bundles' folder, "
    "else the packaged forms).",
)
@click.option("--list-rules", is_flag=True, help="List the rules with their 五个一律 source text and exit.")
@pass_cli
def audit(
    obj: CliContext,
    paths: tuple[str, ...],
    audit_format: str | None,
    output: str | None,
    fail_on: str,
    catalogs: tuple[str, ...],
    forms_dir: str | None,
    list_rules: bool,
) -> None:
    """Audit material lists by the 五个一律 rules (R1–R8, R10, R11): validate errors first, then findings,
    the applicant's checklist per scenario and the reduction figures by reason."""
    fmt = audit_format or obj.output_format
    if list_rules:
        _write(_rules_text(fmt), output)
        return
    if not paths:
        raise click.UsageError("请至少指定一个事项包文件或目录（或用 --list-rules）")

    from ..audit import audit_paths, load_catalog
    from ..report.records import audit_records

    catalog = load_catalog(catalogs)
    report = audit_paths(paths, catalog=catalog, forms=forms_dir)
    records = audit_records(report)
    if fmt == "json":
        from ..report.json import render_json

        text = render_json(records)
    elif fmt == "sarif":
        from ..report.sarif import render_sarif

        text = render_sarif(records)
    elif fmt == "html":
        from ..report.html import render_html

        text = render_html(records)
    else:
        from ..report.text import render_text

        color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        text = render_text(records, color=color)
    _write(text, output)
    summary = records["summary"]
    if fmt != "text" or output is not None:
        from ..audit.wording import counts_text

        validate = (
            f"校验（validate）错误 {summary['validation_errors']} 项，"
            if summary["validation_errors"]
            else ""
        )
        click.echo(
            f"材料审查：{summary['files']} 个文件，{summary['bundles']} 个事项：{validate}"
            f"{counts_text(summary['errors'], summary['warnings'], summary['notes'])}；"
            f"材料 {summary['materials_before']} → {summary['materials_after']} 件"
            + (f"；报告已写入 {output}" if output else ""),
            err=True,
        )
    click.get_current_context().exit(1 if report.fails(fail_on) else 0)
