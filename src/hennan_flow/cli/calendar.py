"""`hennan-flow calendar`: the working-day calendar, without a database.

`add` and `show` read chinese-calendar plus the `--calendar FILE` override, so a clerk or a process
designer can check a deadline anywhere. `load` (store a file in the database) joins this group as one
more `@calendar.command`, written with the engine commands.
"""

from __future__ import annotations

import re
from datetime import date

import click

from ..clock.arithmetic import due_date
from ..clock.instants import FIRST_YEAR, LAST_YEAR, parse_day
from ..clock.workdays import WorkCalendar, load_override
from ..errors import ConfigError
from ..limits import printable
from ._context import CliContext, format_option, pass_cli

__all__ = ["calendar", "work_calendar"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_DAYS = 10_000  # an N-day limit: far beyond any statutory limit, within any calendar arithmetic


def work_calendar(obj: CliContext) -> WorkCalendar:
    """The calendar of the commands that open no database: chinese-calendar plus `--calendar FILE`."""
    if obj.calendar_file is None:
        return WorkCalendar()
    return WorkCalendar([load_override(obj.calendar_file)])


def _parse_date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"DATE {printable(text)} is not a date YYYY-MM-DD")
    try:
        return parse_day(text, what="DATE")
    except ConfigError as exc:
        raise ConfigError(f"DATE {printable(text)} is not a date YYYY-MM-DD ({exc.message})") from exc


def _parse_int(text: str, what: str, *, minimum: int, maximum: int) -> int:
    if re.fullmatch(r"[+-]?\d{1,9}", text.strip()):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    raise ConfigError(f"{what} must be a whole number from {minimum} to {maximum}, got {printable(text)}")


@click.group()
def calendar() -> None:
    """Working days: chinese-calendar plus the county override (--calendar FILE)."""


@calendar.command(
    "add",
    # "-3" is a value of N, not an unknown option: it gets our one-line error below.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("start", metavar="DATE")
@click.argument("n", metavar="N")
@click.option(
    "--unit",
    type=click.Choice(["workday", "natural_day"]),
    default="workday",
    show_default=True,
    help="workday: the N-th working day after DATE; natural_day: DATE + N days, rolled to a working day.",
)
@format_option("text", "json")
@pass_cli
def add(obj: CliContext, start: str, n: str, unit: str) -> None:
    """Print the deadline date of an N-day limit accepted on DATE (DATE itself not counted)."""
    day = _parse_date(start)
    count = _parse_int(n, "N", minimum=1, maximum=MAX_DAYS)
    cal = work_calendar(obj)
    due = due_date(day, count, unit, cal)
    obj.emit(
        {
            "date": due.isoformat(),
            "start": day.isoformat(),
            "n": count,
            "unit": unit,
            "calendar": cal.version,
        },
        due.isoformat(),
    )


@calendar.command("show")
@click.argument("year", metavar="YEAR")
@format_option("text", "json")
@pass_cli
def show(obj: CliContext, year: str) -> None:
    """List YEAR's weekdays off (rest) and weekend working days (work, 调休)."""
    number = _parse_int(year, "YEAR", minimum=FIRST_YEAR, maximum=LAST_YEAR)
    cal = work_calendar(obj)
    rest, work = cal.rest_days(number), cal.make_up_days(number)
    names = {d.isoformat(): name for d in (*rest, *work) if (name := cal.holiday_name(d)) is not None}
    rows = sorted([(d, "rest") for d in rest] + [(d, "work") for d in work])

    def text() -> str:
        lines = []
        for day, kind in rows:
            name = names.get(day.isoformat())
            lines.append(
                f"{day.isoformat()} {_WEEKDAYS[day.weekday()]} {kind}" + (f" {name}" if name else "")
            )
        return "\n".join(lines)

    obj.emit(
        {
            "year": number,
            "calendar": cal.version,
            "rest": [d.isoformat() for d in rest],
            "work": [d.isoformat() for d in work],
            "names": names,
        },
        text,
    )


@calendar.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--actor",
    default=None,
    envvar="HENNAN_FLOW_ACTOR",
    help="Who loads the file (recorded in the audit log).",
)
@format_option()
@pass_cli
def load(obj: CliContext, file: str, actor: str | None) -> None:
    """Store a county override file in the database; open deadlines are recomputed with it."""
    load_override(file)  # refused here, before the database opens: not a regular file, too big, malformed
    result = obj.engine().load_calendar(file, actor=actor)
    obj.emit(
        result,
        f"loaded calendar {result['version']} (now {result['calendar']}); {result['recomputed']} open deadline(s) "
        "recomputed",
    )
