"""`hennan-flow validate PATH...`: one line per problem; exit 0 clean, 1 errors, 2 unusable input."""

from __future__ import annotations

import click

from ..bpmn.validate import validate_paths
from ._context import CliContext, format_option, forms_option, pass_cli


@click.command()
@click.argument("paths", nargs=-1, required=True)
@forms_option()
@click.option(
    "--allow-code-tasks", is_flag=True, help="Accept script/service/business-rule tasks (sandboxed)."
)
@format_option()
@pass_cli
def validate(obj: CliContext, paths: tuple[str, ...], forms_dir: str | None, allow_code_tasks: bool) -> None:
    """Check bundle files: XML, BPMN 2.0 XSD, hf: XSD, SpiffWorkflow traps, executable spec."""
    report = validate_paths(paths, forms_dir=forms_dir, allow_scripts=allow_code_tasks)

    def text() -> str:
        return "\n".join(p.line_text() for f in report.files for p in f.problems)

    obj.emit(report.as_dict(), text)
    if not obj.json:
        errors = sum(p.severity == "error" for f in report.files for p in f.problems)
        warnings = sum(p.severity == "warning" for f in report.files for p in f.problems)
        bad = sum(not f.ok for f in report.files)
        click.echo(
            f"{len(report.files)} file(s) checked: {bad} with errors, {errors} error(s), "
            f"{warnings} warning(s)",
            err=True,
        )
    click.get_current_context().exit(report.exit_code)
