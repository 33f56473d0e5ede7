"""`hennan-flow report supervision`: the 红黄牌 supervision report (issue 8) as text, JSON or HTML.

Thin: parses the options, asks `Engine.supervision_report` for the record and hands it to a renderer.
`--format` here (text | json | html) overrides the global one (text | json). JSON is exactly one
document on stdout (or in `--output FILE`). Exit 0 with a report (also when the period has no steps:
the report says so), 2 for a bad date, a reversed range or an unknown department (one line on stderr).
"""

from __future__ import annotations

from datetime import date

import click

from ..clock.instants import parse_day
from ._context import CliContext, output_option, pass_cli, write_report

__all__ = ["report"]

FORMATS = ("text", "json", "html")


def _date(value: str | None, option: str) -> date | None:
    return None if value is None else parse_day(value, what=option)


@click.group()
def report() -> None:
    """Reports over the database: the 红黄牌 supervision report and the 红牌通报 bulletin."""


@report.command("supervision")
@click.option("--from", "start", metavar="DATE", default=None, help="First day (YYYY-MM-DD, Asia/Shanghai).")
@click.option("--to", "end", metavar="DATE", default=None, help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--department", metavar="CODE", default=None, help="Only this department (lane code).")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Report format (overrides the global --format): text, json or html.",
)
@output_option()
@pass_cli
def supervision(
    obj: CliContext,
    start: str | None,
    end: str | None,
    department: str | None,
    report_format: str | None,
    output: str | None,
) -> None:
    """Per department and bundle: steps, on-time rates, working days, cards, open records, pauses.

    Steps belong to the period by the day they were accepted (受理); see docs/supervision-report.md.
    """
    fmt = report_format or obj.output_format
    record = obj.engine().supervision_report(
        start=_date(start, "--from"), end=_date(end, "--to"), department=department
    )
    if fmt == "json":
        from ..report.supervision_json import render_json

        text = render_json(record)
    elif fmt == "html":
        from ..report.supervision_html import render_html

        text = render_html(record)
    else:
        from ..report.supervision_text import render_text

        text = render_text(record)
    write_report(text, output)
    if output is not None:
        steps = record["totals"]["steps"]["accepted"]
        click.echo(f"supervision report: {steps} step(s) in scope; written to {output}", err=True)


@report.command("bulletin")
@click.option("--from", "start", metavar="DATE", required=True, help="First day (YYYY-MM-DD, Asia/Shanghai).")
@click.option("--to", "end", metavar="DATE", required=True, help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--department", metavar="CODE", default=None, help="Only this department (lane code).")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Bulletin format (overrides the global --format): text, json or html.",
)
@output_option()
@pass_cli
def bulletin(
    obj: CliContext,
    start: str,
    end: str,
    department: str | None,
    report_format: str | None,
    output: str | None,
) -> None:
    """红牌通报: the period's red cards, conclusions and measures, publishable (no applicant data)."""
    from ..report import bulletin as render

    fmt = report_format or obj.output_format
    record = obj.engine().bulletin(
        start=_date(start, "--from"), end=_date(end, "--to"), department=department
    )
    text = (
        render.render_json(record)
        if fmt == "json"
        else render.render_html(record)
        if fmt == "html"
        else render.render_text(record)
    )
    write_report(text, output)
    if output is not None:
        click.echo(f"红牌通报：{record['count']} 张红牌，已写入 {output}", err=True)
