"""The `hennan-flow` command line: a thin layer over the library.

One error boundary (`main`) turns every `HennanFlowError` into one line on stderr and the error's
exit code (0 ok, 1 findings or a failed check, 2 usage or input error, 3 internal error). Command
groups live in their own modules and are imported only when used, so `validate` and `audit` never
load the database layer.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
from dataclasses import asdict
from typing import Any, NoReturn

import click

from ..errors import HennanFlowError, InputError, Location
from ._context import CliContext, bound_parameters
from .usage import usage_message

__all__ = ["cli", "error_code", "main"]

# name -> "module:attribute", loaded on first use
COMMANDS: dict[str, str] = {
    "validate": "hennan_flow.cli.validate:validate",
    "calendar": "hennan_flow.cli.calendar:calendar",
    "directory": "hennan_flow.cli.directory:directory",
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
    "keys": "hennan_flow.cli.keys:keys",
    "exchange": "hennan_flow.cli.exchange:exchange",
    "serve": "hennan_flow.cli.serve:serve",
    "apikey": "hennan_flow.cli.apikey:apikey",
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
        if not isinstance(command, click.Command):
            return None
        bound_parameters(command)
        return command


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
@click.option(
    "--allow-plaintext",
    is_flag=True,
    help="Without a key (HENNAN_FLOW_KEY), store personal data in plain text (env HENNAN_FLOW_ALLOW_PLAINTEXT=1).",
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
    allow_plaintext: bool,
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
    obj = ctx.ensure_object(CliContext)  # main() hands one in, so its error boundary sees the format
    obj.db_url = db_url
    obj.output_format = output_format or obj.output_format
    obj.now = now
    obj.calendar_file = calendar_file
    obj.allow_plaintext = allow_plaintext
    obj.debug = debug
    ctx.call_on_close(obj.close)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script: the one error boundary.

    Every failure ends as one line on stderr (text) or one document `{"error": {"code", "message",
    "hint", "location"}}` on stdout (`--format json`), with the exit code of its kind: 1 findings or a
    lost race, 2 usage or input, 3 a bug. Arguments that are not UTF-8 (bytes a GBK terminal sent)
    are refused before anything reads them.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    holder = CliContext()
    try:
        _check_arguments(args)
        code = cli.main(args=args, prog_name="hennan-flow", standalone_mode=False, obj=holder)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail(args, "aborted", "已中止。", None, None, 1)
    except click.ClickException as exc:
        hint = None
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f"查看：{exc.ctx.command_path} --help"
        _fail(
            args,
            "usage",
            usage_message(exc),
            hint,
            None,
            2 if isinstance(exc, click.UsageError) else exc.exit_code,
        )
    except HennanFlowError as exc:
        _fail(args, error_code(exc), exc.message, exc.hint, exc.location, exc.exit_code, exc=exc)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: one line, exit 3, never 1 (which means findings)
        if debug:
            raise
        _fail(
            args,
            "internal",
            f"{type(exc).__name__}: {exc}",
            "这是 hennan_flow 的缺陷；加 --debug 重新运行以查看调用栈，并报告它",
            None,
            3,
        )


def _check_arguments(args: list[str]) -> None:
    """Refuse arguments (and HENNAN_FLOW_DB) that are not UTF-8 text before any command reads them."""
    from ..limits import printable

    named = [(f"第 {i} 个参数", a) for i, a in enumerate(args, start=1)]
    named.append(("HENNAN_FLOW_DB", os.environ.get("HENNAN_FLOW_DB", "")))
    for what, value in named:
        if "\x00" in value:  # a real command line cannot hold one; an embedding caller's list can
            raise InputError(f"{what} {printable(value)} 含有 NUL 字符")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"{what} {printable(value)} 不是 UTF-8 文本",
                hint="把终端设为 UTF-8（如 LANG=zh_CN.UTF-8）后重新输入",
            ) from None


def _json_asked(args: list[str]) -> bool:
    """Whether the error should be a JSON document: the last --format given says (the subcommand's wins)."""
    wanted = None
    for i, arg in enumerate(args):
        if arg == "--format" and i + 1 < len(args):
            wanted = args[i + 1]
        elif arg.startswith("--format="):
            wanted = arg.split("=", 1)[1]
    return wanted == "json"


def error_code(exc: HennanFlowError) -> str:
    """A stable code for an error: the diagnostic code of a bundle error, else its kind in snake case."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    name = type(exc).__name__.removesuffix("Error") or "HennanFlow"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _safe(text: str) -> str:
    """Text any terminal can print on one line: undecodable bytes and control characters as escapes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _fail(
    args: list[str],
    code: str,
    message: str,
    hint: str | None,
    location: Location | None,
    exit_code: int,
    *,
    exc: HennanFlowError | None = None,
) -> NoReturn:
    message = " ".join(_safe(message).split())
    if len(message) > 1000:  # a huge value quoted by a dependency's message
        message = message[:997] + "..."
    if _json_asked(args):
        where = None
        if location is not None:
            where = {k: v for k, v in asdict(location).items()}
        error: dict[str, Any] = {
            "code": code,
            "message": message,
            "hint": hint and _safe(hint),
            "location": where,
        }
        fields = getattr(exc, "fields", None)
        if fields:
            error["fields"] = [{"field": _safe(f.field), "message": _safe(f.message)} for f in fields]
        sys.stdout.write(json.dumps({"error": error}, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()
    elif exc is not None:  # input errors on one line; findings (exit 1) may list one per line
        lines = [str(exc)] if exit_code == 2 else str(exc).split("\n")
        text = "\n".join(_safe(line) for line in lines)
        click.echo(f"错误：{text if len(text) <= 4000 else text[:3997] + '...'}", err=True)
    elif code == "internal":
        click.echo(f"内部错误：{message}（{hint}）", err=True)
    elif code == "aborted":
        click.echo(message, err=True)
    else:
        click.echo(f"错误：{message}" + (f"（{hint}）" if hint else ""), err=True)
    sys.exit(exit_code)
