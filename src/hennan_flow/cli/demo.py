"""`hennan-flow demo`: whole bundles end to end on a simulation database at a fixed instant."""

from __future__ import annotations

import click

from ..errors import SimulationError
from ._context import CliContext, format_option, pass_cli


@click.command()
@click.option(
    "--start", default=None, help="Simulated start instant (default: the script's, 2026-03-02 09:00)."
)
@format_option()
@pass_cli
def demo(obj: CliContext, start: str | None) -> None:
    """Deploy the packaged bundles and run demo cases; the last line says how many completed.

    With --format json the narration goes to stderr and stdout is one document: the database, the
    case ids and how many completed.
    """
    if obj.now is not None:
        raise SimulationError("演示使用自己的模拟时钟", hint="用 --start 代替 --now")
    from ..demo import run_demo

    url = obj.database_url()
    result = run_demo(
        url, say=(lambda line: click.echo(line, err=True)) if obj.json else click.echo, start=start
    )
    obj.emit({"database": url, "cases": list(result.cases), "completed": result.completed}, None)
    if result.completed != len(result.cases):
        click.get_current_context().exit(1)
