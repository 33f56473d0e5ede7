"""`hennan-flow exchange export | push | status`: the GB/T 39046 data exchange (DESIGN §10).

Thin: parses the options and calls hennan_flow.exchange (export.py, push.py; docs/exchange.md).
`export` prints the new cursor (text: the last line `cursor N`; JSON: the whole result). `push`
exits 0 when every record after the target's cursor was acknowledged, 1 when the receiver did not
acknowledge a batch (the cursor stays; push again), 2 for bad options.
"""

from __future__ import annotations

import click

from ._context import CliContext, format_option, pass_cli

__all__ = ["exchange"]

ACTOR = click.option(
    "--actor",
    default=None,
    envvar="HENNAN_FLOW_ACTOR",
    help="Who runs the exchange: an admin of the directory (env HENNAN_FLOW_ACTOR).",
)
APPLICANT = click.option(
    "--applicant",
    is_flag=True,
    help="Add the applicant's name and ID number to 受理 records (needs the key; personal data).",
)


@click.group()
def exchange() -> None:
    """GB/T 39046 §6 data sets (受理, 办理过程, 特别程序, 办结, 评价, 电子监察) from the outbox."""


@exchange.command("export")
@click.option(
    "--after",
    "after",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="CURSOR",
    help="Outbox cursor: export the events after this id (the cursor the last export printed).",
)
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False),
    required=True,
    metavar="DIR",
    help="Folder of the JSON Lines files, one per data set (created if missing).",
)
@APPLICANT
@ACTOR
@format_option()
@pass_cli
def export_command(obj: CliContext, after: int, output: str, applicant: bool, actor: str | None) -> None:
    """Write the data sets of the outbox events after CURSOR into DIR; print the new cursor."""
    from ..exchange.access import authorize
    from ..exchange.export import export

    authorize(obj.engine().context, actor)
    with obj.engine().context.read() as session:
        result = export(session, output, after=after, applicant=applicant)

    def text() -> str:
        lines = [f"{n} record(s) → {output}/{table}.jsonl" for table, n in result.written.items() if n]
        if result.already:
            lines.append(f"{result.already} record(s) already in the files")
        lines.append(f"cursor {result.cursor}")
        return "\n".join(lines)

    obj.emit(result.as_dict(), text)


@exchange.command("push")
@click.option(
    "--url", "url", required=True, metavar="URL", help="The receiver's URL (each batch is POSTed there)."
)
@click.option(
    "--target",
    "target",
    default=None,
    metavar="NAME",
    help="The name the cursor is stored under (default: the URL).",
)
@click.option(
    "--batch",
    "batch",
    type=click.IntRange(min=1, max=10000),
    default=100,
    show_default=True,
    help="Outbox events per request (at most that many records).",
)
@click.option(
    "--retries",
    "retries",
    type=click.IntRange(min=1, max=100),
    default=5,
    show_default=True,
    help="Attempts per batch before the push stops.",
)
@click.option(
    "--timeout",
    "timeout",
    type=click.FloatRange(min=0.01, max=600),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the receiver per request.",
)
@click.option(
    "--backoff",
    "backoff",
    type=click.FloatRange(min=0, max=60),
    default=0.5,
    show_default=True,
    help="First retry delay in seconds (doubles per attempt, with jitter, at most 30 s).",
)
@APPLICANT
@ACTOR
@format_option()
@pass_cli
def push_command(
    obj: CliContext,
    url: str,
    target: str | None,
    batch: int,
    retries: int,
    timeout: float,
    backoff: float,
    applicant: bool,
    actor: str | None,
) -> None:
    """Post the records after the target's stored cursor, batch by batch, exactly once per target."""
    from ..exchange.push import Pusher

    pusher = Pusher(
        obj.engine().context,
        url,
        target=target,
        batch=batch,
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        applicant=applicant,
        actor=actor,
    )
    result = pusher.run()
    obj.emit(
        result.as_dict(),
        f"target {result.target}: {result.records} record(s) in {result.batches} batch(es) delivered; "
        f"cursor {result.before} → {result.cursor}",
    )


@exchange.command("status")
@format_option()
@pass_cli
def status_command(obj: CliContext) -> None:
    """Every push target's stored cursor and how many records it was sent."""
    from ..exchange.push import cursors

    rows = cursors(obj.engine().context)
    obj.emit(
        rows,
        "\n".join(
            f"{r['target']}: cursor {r['cursor']}, {r['records']} record(s), {r['updated_at']}" for r in rows
        )
        or "no push target yet",
    )
