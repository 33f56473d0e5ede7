"""`hennan-flow directory`: the county's departments, users and roles (DESIGN §8)."""

from __future__ import annotations

import click

from ._context import CliContext, format_option, pass_cli
from ._text import table

__all__ = ["directory"]

_YES = {True: "是", False: "否"}


@click.group()
def directory() -> None:
    """The county directory: departments (with superiors), users and their roles."""


@directory.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--actor",
    default=None,
    envvar="HENNAN_FLOW_ACTOR",
    help="The admin who loads it (the first load needs none).",
)
@format_option()
@pass_cli
def load(obj: CliContext, file: str, actor: str | None) -> None:
    """Store a directory file in the database; the newest stored one is in force."""
    from ..engine.directories import read_directory_file

    read_directory_file(file)  # refused here, before the database opens
    result = obj.engine().load_directory(file, actor=actor)
    obj.emit(
        result,
        f"已载入部门与人员目录 {result['version']}：{result['departments']} 个部门，{result['users']} 名用户",
    )


@directory.command("show")
@format_option("text", "json")
@pass_cli
def show(obj: CliContext) -> None:
    """Print the directory in force."""
    found = obj.engine().directory()

    def text() -> str:
        depts = table(
            ("部门代码", "名称", "上级", "县外"),
            [(d.code, d.name, d.superior or "", _YES[d.external]) for d in found.departments.values()],
            empty="（没有部门）",
        )
        users = table(
            ("用户", "姓名", "部门", "角色", "在职"),
            [
                (u.id, u.name, ",".join(u.departments), ",".join(u.roles), _YES[u.active])
                for u in found.users.values()
            ],
            empty="（没有用户）",
        )
        settings = "  ".join(f"{k}={v}" for k, v in found.supervision.items())
        return f"部门与人员目录 {found.version}\n\n{depts}\n\n{users}\n\n督办设置：{settings}"

    obj.emit(found.as_json(), text)
