"""`hennan-flow apikey`: API keys of service accounts for the HTTP service (X-API-Key, DESIGN §11)."""

from __future__ import annotations

import click

from ._context import CliContext, format_option, pass_cli
from ._text import table

__all__ = ["apikey"]


@click.group()
def apikey() -> None:
    """API keys: each acts as one directory user; stored hashed, printed once."""


_ACTOR = click.option(
    "--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The admin who does it (env HENNAN_FLOW_ACTOR)."
)


@apikey.command("create")
@click.option("--user", required=True, help="The directory user the key acts as.")
@_ACTOR
@format_option()
@pass_cli
def create(obj: CliContext, user: str, actor: str | None) -> None:
    """Create a key for USER and print it once, as the last word (--format json: {"key"})."""
    record, key = obj.engine().api_keys.create(user, actor=actor)
    obj.emit(
        {"key": key, "id": record.id, "user": record.user}, f"API key {record.id} for {record.user}: {key}"
    )


@apikey.command("list")
@format_option()
@pass_cli
def list_keys(obj: CliContext) -> None:
    """Every key: id, user, created, revoked (never the key itself)."""
    found = obj.engine().api_keys.list()
    obj.emit(
        [k.as_dict() for k in found],
        lambda: table(
            ("id", "用户", "创建", "创建人", "吊销"),
            [
                (k.id, k.user, k.as_dict()["created_at"], k.created_by or "", k.as_dict()["revoked_at"] or "")
                for k in found
            ],
            empty="（没有接口密钥）",
        ),
    )


@apikey.command("revoke")
@click.argument("key_id")
@_ACTOR
@format_option()
@pass_cli
def revoke(obj: CliContext, key_id: str, actor: str | None) -> None:
    """Revoke key KEY_ID (from apikey list): it stops working at once."""
    record = obj.engine().api_keys.revoke(key_id, actor=actor)
    obj.emit(record.as_dict(), f"API key {record.id} of {record.user} revoked")
