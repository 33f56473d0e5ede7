"""What every command shares: global options, the output format and the lazily opened engine."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigError, Location

if TYPE_CHECKING:
    from ..engine.facade import Engine

__all__ = ["CliContext", "format_option", "forms_option", "output_option", "pass_cli", "write_report"]


@dataclass
class CliContext:
    """Global options; the engine is opened only by commands that need a database."""

    db_url: str
    output_format: str = "text"
    now: str | None = None
    calendar_file: str | None = None
    debug: bool = False
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.output_format == "json"

    def now_instant(self) -> datetime | None:
        """`--now` as an aware datetime (naive values are read as Asia/Shanghai)."""
        if self.now is None:
            return None
        from ..clock.instants import parse_instant

        return parse_instant(self.now, what="--now")

    def engine(self) -> Engine:
        """The engine over `--db`, opened once; `--now` becomes its simulated clock."""
        if self._engine is None:
            from ..engine.facade import Engine

            now = self.now_instant()
            licences = None
            url = os.environ.get("HENNAN_FLOW_LICENCE_URL")
            if url:  # the county's e-licence service, for every command that runs a case
                from ..services.licences import HttpLicenceProvider

                licences = HttpLicenceProvider(url)
            self._engine = Engine(self.db_url, clock=now, licences=licences)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def emit(self, document: Any, text: Callable[[], str] | str | None = None) -> None:
        """Print the result: exactly one JSON document with --format json, else the text."""
        if self.json:
            sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
            return
        if text is None:
            return
        out = text() if callable(text) else text
        if out:
            click.echo(out)


pass_cli = click.make_pass_decorator(CliContext)


def _set_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        obj = ctx.find_object(CliContext)
        if obj is None:
            raise ConfigError("no CLI context")
        obj.output_format = value
    return value


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format` after the subcommand; its value wins over the global one."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices or ("text", "json"))),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_format,
        help="Output format (overrides the global --format).",
    )


def forms_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--forms DIR` of the commands that read bundles (validate, deploy)."""
    return click.option(
        "--forms",
        "forms_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder of form schemas (default: forms/ beside the BPMN's folder, then the packaged ones).",
    )


def output_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--output FILE` of the report commands (audit, report supervision)."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False),
        default=None,
        help="Write the report to FILE instead of stdout.",
    )


def write_report(text: str, output: str | None) -> None:
    """Write a rendered report to stdout, or to the file of `--output` (an unwritable one is a ConfigError)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report: {exc.strerror or exc}",
            location=Location(file=output),
            hint="check that the folder of --output exists and is writable",
        ) from exc
