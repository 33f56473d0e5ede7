"""The `hennan-flow` command line: a thin layer over the library.

One error boundary (`main`) turns every `HennanFlowError` into one line on stderr and the error's
exit code (0 ok, 1 findings or a failed check, 2 usage or input error, 3 internal error). Command
groups live in their own modules and are imported only when used, so `validate` and `audit` never
load the database layer.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from ..errors import HennanFlowError
from ._context import CliContext

__all__ = ["cli", "main"]

# name -> "module:attribute", loaded on first use
COMMANDS: dict[str, str] = {
    "validate": "hennan_flow.cli.validate:validate",
    "calendar": "hennan_flow.cli.calendar:calendar",
    "audit": "hennan_flow.cli.audit:audit",
    "db": "hennan_flow.cli.engine:db",
    "deploy": "hennan_flow.cli.engine:deploy",
    "case": "hennan_flow.cli.engine:case",
    "task": "hennan_flow.cli.engine:task",
    "demo": "hennan_flow.cli.demo:demo",
    "sla": "hennan_flow.cli.supervision:sla",
    "card": "hennan_flow.cli.supervision:card",
    "report": "hennan_flow.cli.report:report",
    "commitment": "hennan_flow.cli.services:commitment",
    "material": "hennan_flow.cli.services:material",
    "review": "hennan_flow.cli.services:review",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not built yet
                return None
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="HENNAN_FLOW_DB",
    default="sqlite:///hennan_flow.db",
    show_default=True,
    help="Database URL (env HENNAN_FLOW_DB).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Output format; also accepted after the subcommand.",
)
@click.option("--now", "now", default=None, help="Simulated instant (ISO-8601); simulation databases only.")
@click.option(
    "--calendar",
    "calendar_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="County calendar override file (TOML) for commands that open no database.",
)
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v info, -vv debug).")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="hennan-flow")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str,
    output_format: str | None,
    now: str | None,
    calendar_file: str | None,
    verbose: int,
    debug: bool,
) -> None:
    """Run county 一件事一次办 service bundles as BPMN."""
    if verbose:
        logging.basicConfig(
            stream=sys.stderr,
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    ctx.obj = CliContext(
        db_url=db_url,
        output_format=output_format or "text",
        now=now,
        calendar_file=calendar_file,
        debug=debug,
    )
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script: the one error boundary."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="hennan-flow", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except HennanFlowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: one line, exit 3, never 1 (which means findings)
        if debug:
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (a bug in hennan_flow; rerun with --debug "
            "for the traceback and report it)",
            err=True,
        )
        sys.exit(3)
