"""The database schema: creating or migrating it (Alembic, shipped in the package) and its status.

`upgrade` runs the migrations to the newest revision; `simulation` marks a new, empty database as a
simulation database (the only kind that accepts simulated time, DESIGN §6), refused on one that
already holds data. `status` says the revision, the newest one this version knows and the mark.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import OperationalError

from ..db import migrate
from ..db.models import DefinitionRow, MetaRow
from ..errors import SimulationError
from .context import EngineContext, database_error

__all__ = ["status", "upgrade"]


def upgrade(ctx: EngineContext, *, simulation: bool = False) -> str:
    """Create or migrate the schema to the newest revision; the revision it is at now."""
    try:
        if simulation and _has_data(ctx):
            raise SimulationError(
                "已有数据的数据库不能改为模拟数据库",
                hint="模拟和培训请使用新的空数据库",
            )
        migrate.upgrade(ctx.db)
        with ctx.unchecked(write=True) as session:
            if simulation:
                session.merge(MetaRow(key="simulation", value="true"))
            elif session.get(MetaRow, "simulation") is None:
                session.add(MetaRow(key="simulation", value="false"))
    except OperationalError as exc:
        raise database_error(exc, ctx.url) from exc
    ctx.schema_changed()
    return migrate.head_revision()


def status(ctx: EngineContext) -> dict[str, Any]:
    """Schema revision, the newest revision this version knows, and the simulation mark."""
    try:
        current = migrate.current_revision(ctx.db)
        simulation = None
        if current is not None:
            with ctx.unchecked() as session:
                mark = session.get(MetaRow, "simulation")
                simulation = mark is not None and mark.value == "true"
    except OperationalError as exc:
        raise database_error(exc, ctx.url) from exc
    head = migrate.head_revision()
    return {"revision": current, "head": head, "up_to_date": current == head, "simulation": simulation}


def _has_data(ctx: EngineContext) -> bool:
    if not inspect(ctx.db).has_table("hf_definition"):
        return False
    with ctx.unchecked() as session:
        return bool(session.scalar(select(func.count()).select_from(DefinitionRow)))
