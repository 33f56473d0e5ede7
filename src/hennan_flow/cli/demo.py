"""`hennan-flow demo`: whole bundles end to end on a simulation database at a fixed instant."""

from __future__ import annotations

import click

from ..errors import SimulationError
from ._context import CliContext, pass_cli


@click.command()
@click.option(
    "--start", default=None, help="Simulated start instant (default: the script's, 2026-03-02 09:00)."
)
@pass_cli
def demo(obj: CliContext, start: str | None) -> None:
    """Deploy the packaged bundles and run demo cases; the last line says how many completed."""
    if obj.now is not None:
        raise SimulationError("the demo keeps its own simulated clock", hint="use --start instead of --now")
    from ..demo import run_demo

    result = run_demo(obj.db_url, say=click.echo, start=start)
    if result.completed != len(result.cases):
        click.get_current_context().exit(1)
