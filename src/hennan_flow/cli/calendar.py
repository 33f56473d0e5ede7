"""`hennan-flow calendar`: the working-day calendar.

`add` and `show` read the database's stored calendar whenever a database exists at `--db` (read
only: they never create one), else chinese-calendar's data; `--calendar FILE` layers a file on top,
so a clerk or a process designer can check a deadline anywhere, and following the hint of a
missing year (`calendar load`) makes the same command succeed. `load`, `provisional` and `status`
work on the database.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

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
    """The stored calendar of the database at `--db` if one exists (else chinese-calendar's data),
    plus `--calendar FILE` on top."""
    stored = _stored_calendar(obj)
    if obj.calendar_file is None:
        return stored or WorkCalendar()
    overrides = stored.overrides if stored is not None else ()
    return WorkCalendar([*overrides, load_override(obj.calendar_file)])


def _stored_calendar(obj: CliContext) -> WorkCalendar | None:
    """The database's calendar, read only; None where no database exists (none is created)."""
    url = obj.database_url()
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if not database or database == ":memory:" or not Path(database).is_file():
            return None
        if Path(database).stat().st_size == 0:
            return None
    return obj.engine().calendar()


def _parse_date(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"DATE {printable(text)} 不是 YYYY-MM-DD 格式的日期")
    try:
        return parse_day(text, what="DATE")
    except ConfigError as exc:
        raise ConfigError(f"DATE {printable(text)} 不是 YYYY-MM-DD 格式的日期（{exc.message}）") from exc


def _parse_int(text: str, what: str, *, minimum: int, maximum: int) -> int:
    if re.fullmatch(r"[+-]?\d{1,9}", text.strip()):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    raise ConfigError(f"{what} 须为 {minimum} 到 {maximum} 之间的整数，收到 {printable(text)}")


@click.group()
def calendar() -> None:
    """Working days: the stored calendar (or chinese-calendar's) plus --calendar FILE."""


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


@calendar.command("provisional")
@click.argument("year", metavar="YEAR")
@click.option("--actor", default=None, help="Who stores the year (recorded in the audit log).")
@format_option()
@pass_cli
def provisional(obj: CliContext, year: str, actor: str | None) -> None:
    """Store a provisional YEAR built from 全国年节及纪念日放假办法 until its schedule is published.

    Its statutory holidays rest when they fall Monday to Friday, with no make-up days; everything
    computed from it is marked provisional, and loading a file covering YEAR replaces it.
    """
    from ..clock.statutory import FIRST_STATUTORY_YEAR, LAST_STATUTORY_YEAR

    number = _parse_int(year, "YEAR", minimum=FIRST_STATUTORY_YEAR, maximum=LAST_STATUTORY_YEAR)
    result = obj.engine().provisional_calendar(number, actor=actor)
    obj.emit(
        result,
        f"stored provisional year {number} (now {result['calendar']}); {result['recomputed']} open deadline(s) "
        "recomputed. Load the State Council's schedule with hennan-flow calendar load FILE when it is published.",
    )


@calendar.command("status")
@format_option("text", "json")
@pass_cli
def status(obj: CliContext) -> None:
    """The stored calendar: its sources, years covered, provisional years, pending and unsupervised steps."""
    doc = obj.engine().calendar_status()

    def text() -> str:  # in Chinese: county staff read it (ids, versions and instants as they are)
        lines = [f"工作日历 {doc['calendar']}"]
        lines.append("覆盖 " + "、".join(f"{a}..{b}" for a, b in doc["ranges"]))
        lines.append(f"数据止于 {doc['ends']}（距今 {doc['days_left']} 天）")
        for src in doc["sources"]:
            what = (
                "暂定年份"
                if src["provisional"]
                else (
                    "年份 " + "、".join(map(str, src["years"]))
                    if src["years"]
                    else f"本地调整：{src['reason']}"
                )
            )
            lines.append(f"  {src['version']}（{src['source']}，载入于 {src['loaded_at']}）：{what}")
        if doc["provisional_years"]:
            lines.append("暂定年份：" + "、".join(map(str, doc["provisional_years"])))
        if doc["pending_deadlines"]:
            lines.append(
                f"警告：{doc['pending_deadlines']} 项期限待定（须载入 "
                + "、".join(map(str, doc["needed_years"]))
                + " 年日历）。请用 hennan-flow calendar load 文件，或 hennan-flow calendar provisional 年份"
            )
        else:
            lines.append("待定期限：0")
        if doc["unsupervised"]:
            lines.append(f"警告：{len(doc['unsupervised'])} 个未结步骤没有期限，不受督办")
            lines.extend(
                f"  {u['task']} {u['step']}（案件 {u['case']}，就绪于 {u['ready_at']}）"
                for u in doc["unsupervised"]
            )
        return "\n".join(lines)

    obj.emit(doc, text)
