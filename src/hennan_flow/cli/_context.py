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
from ..inputs import ReadRefused, os_reason, write_output

if TYPE_CHECKING:
    from ..engine.facade import Engine

__all__ = [
    "CliContext",
    "bound_parameters",
    "check_database_url",
    "format_option",
    "forms_option",
    "output_option",
    "pass_cli",
    "write_report",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"
# the length limit of each text parameter, by its name (every other text parameter: an id, 255)
_PATHS = {"paths", "file", "output", "forms_dir", "calendar_file", "catalogs", "db_url"}
_NAMES = {"actor", "approver"}
_PROSE = {"note", "reason", "text"}


def check_database_url(url: str) -> None:
    """A `sqlite:///` URL that names an existing file must name a SQLite database (exit 2 otherwise)."""
    if not url.startswith("sqlite"):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(url).database
    except ArgumentError:
        return  # the engine says what is wrong with the URL
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        return  # created by db upgrade
    where = Location(file=database)
    hint = "检查 --db / HENNAN_FLOW_DB（文件不存在时 hennan-flow 会自行创建）"
    if not path.is_file():
        raise ConfigError("--db 指向的不是文件", location=where, hint=hint)
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(f"无法读取数据库：{os_reason(exc)}", location=where, hint=hint) from exc
    if head and head != _SQLITE_MAGIC:
        raise ConfigError("--db 指向的文件不是 SQLite 数据库", location=where, hint=hint)


def bound_parameters(command: click.Command) -> None:
    """Give every plain text parameter of `command` (and its subcommands) its length and UTF-8 check."""
    from ._params import ID, NAME, PATH, TEXT

    if isinstance(command, click.Group):
        for sub in command.commands.values():
            bound_parameters(sub)
    for param in command.params:
        if param.type is not click.STRING:
            continue
        name = param.name or ""
        param.type = PATH if name in _PATHS else NAME if name in _NAMES else TEXT if name in _PROSE else ID


@dataclass
class CliContext:
    """Global options; the engine is opened only by commands that need a database."""

    db_url: str = "sqlite:///hennan_flow.db"
    output_format: str = "text"
    now: str | None = None
    calendar_file: str | None = None
    allow_plaintext: bool = False
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

    def database_url(self) -> str:
        """`--db`, checked: a SQLite URL must name a SQLite file (or none yet), never another file."""
        check_database_url(self.db_url)
        return self.db_url

    def engine(self) -> Engine:
        """The engine over `--db`, opened once; `--now` becomes its simulated clock."""
        if self._engine is None:
            from ..engine.facade import Engine

            url = self.database_url()
            now = self.now_instant()
            licences = None
            service = os.environ.get("HENNAN_FLOW_LICENCE_URL")
            if service:  # the county's e-licence service, for every command that runs a case
                from ..services.licences import HttpLicenceProvider

                licences = HttpLicenceProvider(service)
            self._engine = Engine(
                url, clock=now, licences=licences, allow_plaintext=True if self.allow_plaintext else None
            )
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
            raise ConfigError("没有 CLI 上下文")
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


def write_report(text: str, output: str | None, *, what: str = "报告") -> None:
    """Write a rendered report to stdout, or to the file of `--output` (an unwritable one is a ConfigError)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_output(output, text)
    except ReadRefused as exc:
        raise ConfigError(
            f"无法写入{what}：{exc.message.removeprefix('无法写入：')}",
            location=Location(file=output),
            hint=exc.hint or "检查 --output 所在的目录是否存在、是否可写",
        ) from exc
