"""Deployed definitions in the database: storing a new version, finding one, listing the latest.

`definitions.collect` validates and audits the files of a deploy (and refuses them all on any
error); `store` then writes each candidate as the next version of its key, or nothing when its
content is already the latest. The loaded form of a stored version is cached by the engine's
context (`context.EngineContext.definition`).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import CaseRow, DefinitionRow
from ..db.transaction import Tx
from ..entities import Deployment
from ..errors import NotFoundError
from .definitions import Candidate

__all__ = ["bpmn_of_case", "find", "latest", "of_case", "store"]


def store(tx: Tx, c: Candidate, now: datetime, actor: str | None) -> Deployment:
    """Store a candidate as the next version of its key, unless its content is the latest already."""
    session = tx.session
    latest_row = session.scalar(
        select(DefinitionRow)
        .where(DefinitionRow.key == c.key)
        .order_by(DefinitionRow.version.desc())
        .limit(1)
    )
    version = latest_row.version if latest_row is not None else 0
    if latest_row is not None and latest_row.content_hash == c.content_hash:
        return Deployment(c.key, version, c.content_hash, c.name, c.file, created=False)
    row = DefinitionRow(
        key=c.key,
        version=version + 1,
        content_hash=c.content_hash,
        name=c.name,
        source_file=c.file,
        bpmn=c.bpmn,
        forms=json.dumps(c.forms, ensure_ascii=False),
        deployed_at=now,
        deployed_by=actor,
    )
    session.add(row)
    session.flush()
    tx.journal.record(
        "definition.deployed",
        actor=actor,
        at=now,
        detail={"key": c.key, "version": row.version, "content_hash": c.content_hash},
    )
    return Deployment(c.key, row.version, c.content_hash, c.name, c.file, created=True)


def find(session: Session, key: str, version: int | None = None) -> int:
    """The id of a deployed version of `key` (the latest when `version` is None)."""
    query = select(DefinitionRow.id).where(DefinitionRow.key == key)
    if version is not None:
        query = query.where(DefinitionRow.version == version)
    found = session.scalar(query.order_by(DefinitionRow.version.desc()).limit(1))
    if found is None:
        raise NotFoundError(f"没有已部署的事项包 {key!r}" + (f" v{version}" if version else ""))
    return int(found)


def of_case(session: Session, case_id: str) -> int:
    """The id of the definition a case runs (the version it started on)."""
    found = session.scalar(select(CaseRow.definition_id).where(CaseRow.id == case_id))
    if found is None:
        raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
    return int(found)


def latest(session: Session) -> list[Deployment]:
    """The latest deployed version of every bundle key."""
    rows = session.scalars(select(DefinitionRow).order_by(DefinitionRow.key, DefinitionRow.version)).all()
    newest: dict[str, DefinitionRow] = {r.key: r for r in rows}
    return [
        Deployment(r.key, r.version, r.content_hash, r.name, r.source_file, True) for r in newest.values()
    ]


def bpmn_of_case(session: Session, case_id: str) -> str:
    """The BPMN text of the definition a case runs (what its diagram draws)."""
    found = session.scalar(select(DefinitionRow.bpmn).where(DefinitionRow.id == of_case(session, case_id)))
    if found is None:
        raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
    return str(found)
