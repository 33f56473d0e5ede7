"""The county directory (DESIGN §8): storing a file and reading the one in force.

A directory file is stored like a calendar file (versioned, audited, never replaced in place); the
newest stored one is in force (`authority.Authority` reads and caches it for the permission checks).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..db.models import DirectoryRow
from ..errors import NotFoundError
from ..identity.directory import Directory, parse_directory
from ..identity.permissions import authorize
from ..tomlfile import read_toml_text
from .authority import NO_DIRECTORY_HINT
from .context import EngineContext
from .rows import store_file

__all__ = ["load", "read_directory_file", "show"]

log = logging.getLogger(__name__)


def read_directory_file(path: str) -> tuple[str, Directory]:
    """The text and the parsed directory of a file; a malformed one raises `ConfigError` (file, line)."""
    text = read_toml_text(path, what="部门与人员目录文件")
    return text, parse_directory(text, source=path)


def load(ctx: EngineContext, path: str, *, actor: str | None) -> dict[str, Any]:
    """Store a directory file (the first needs no actor; later ones an admin of the stored one)."""
    text, directory = read_directory_file(path)
    with ctx.write() as tx:
        now = ctx.now()
        stored = ctx.authority.directory(tx.raw)
        if stored is not None:
            grant = authorize(stored, actor, "directory.load")
            tx.journal.roles[grant.actor] = grant.role
        elif actor is not None and directory.user(actor) is not None:
            tx.journal.roles[actor] = directory.users[actor].roles[0]
        store_file(
            tx,
            DirectoryRow,
            what="部门与人员目录",
            version=directory.version,
            source=Path(path).name,
            text=text,
            now=now,
            actor=actor,
        )
        tx.journal.record(
            "directory.loaded",
            actor=actor,
            at=now,
            detail={
                "version": directory.version,
                "departments": len(directory.departments),
                "users": len(directory.users),
            },
        )
    log.info("directory loaded: version=%s", directory.version)
    return {
        "version": directory.version,
        "departments": len(directory.departments),
        "users": len(directory.users),
    }


def show(ctx: EngineContext) -> Directory:
    """The directory in force; NotFoundError when none is stored."""
    with ctx.reading() as raw:
        directory = ctx.authority.directory(raw)
    if directory is None:
        raise NotFoundError("尚未保存部门与人员目录", hint=NO_DIRECTORY_HINT)
    return directory
