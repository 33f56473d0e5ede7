"""Schema migrations, run from code with the Alembic scripts shipped in the wheel.

Shipped revisions are never edited (tests/test_migrations.py compares each file with
migrations/shipped.sha256); a fix is a new revision. A downgrade below a revision whose tables hold
records (cases, deadlines, pauses, signals, cards and their records, the outbox, commitments,
reviews …) would delete them: `downgrade` refuses while such rows exist and names them, unless
`force=True`, and then returns what it deleted.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from ..errors import InputError, StateError
from ..resources import packaged_migrations

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where a migration runs: every engine checks the schema when it opens
# (`head_revision`, `current_revision`), and a CLI command should not pay ~0.2 s for Alembic and for
# parsing every revision file to do so.

__all__ = [
    "DROPPED_BY",
    "Loss",
    "alembic_config",
    "check",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

# the tables each revision's downgrade drops with their rows (0005 folds hf_case_task back into
# hf_case, 0007 turns its columns back into hf_signal rows: those lose nothing)
DROPPED_BY: dict[str, tuple[str, ...]] = {
    "0001": ("hf_definition", "hf_event", "hf_meta", "hf_case", "hf_task"),
    "0002": ("hf_calendar", "hf_deadline", "hf_extension", "hf_pause", "hf_signal"),
    "0003": ("hf_card", "hf_card_transition", "hf_outbox"),
    "0004": (
        "hf_commitment",
        "hf_credit",
        "hf_licence_check",
        "hf_rectification",
        "hf_review",
        "hf_supplement_extension",
        "hf_tolerance",
    ),
    "0012": ("hf_directory",),
    "0013": ("hf_outcome",),
    "0014": ("hf_exchange_cursor",),
    "0015": ("hf_card_account", "hf_card_phase", "hf_referral"),
    "0016": ("hf_api_key", "hf_idempotency"),
}
_ALWAYS_THERE = {"hf_meta"}  # the simulation mark: not a record anyone loses


@dataclass(frozen=True)
class Loss:
    """Rows a downgrade deletes: the revision undone, the table and how many rows."""

    revision: str
    table: str
    rows: int

    def line(self) -> str:
        return f"{self.rows} row(s) of {self.table} (revision {self.revision})"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations (absolute path), on `connection`."""
    from alembic.config import Config

    # stdout as it is now: Config's default is the sys.stdout of the moment alembic was first imported
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(packaged_migrations()).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest shipped revision: the highest-numbered file's (the history is one line, each file's
    revision id its number; tests/test_migrations.py checks both against Alembic's own reading)."""
    numbers = [
        m.group(1)
        for p in (packaged_migrations() / "versions").glob("*.py")
        if (m := _REVISION_FILE.match(p.name))
    ]
    return max(numbers)


_REVISION_FILE = re.compile(r"(\d{4})_\w+\.py$")


def current_revision(engine: Engine) -> str | None:
    """The revision the database's `alembic_version` row names (None: no hennan_flow schema)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise StateError(f"the database names several schema revisions: {', '.join(sorted(versions))}")
    return versions[0] if versions else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.execution_options(hf_write=True).begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def _undone(conn: Connection, target: str) -> list[str]:
    """The revisions a downgrade from the current one to `target` undoes, newest first."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    current = MigrationContext.configure(conn).get_current_revision()
    chain: list[str] = []
    rev = current
    while rev is not None:
        chain.append(rev)
        found = script.get_revision(rev)
        down = found.down_revision if found is not None else None
        rev = down if isinstance(down, str) else None  # one line of history: no merges
    known = [r.revision for r in script.walk_revisions()]
    if target == "base":
        return chain
    relative = re.fullmatch(r"-(\d+)", target)
    if relative is not None:
        steps = int(relative.group(1))
        if steps > len(chain):
            raise InputError(f"cannot go {steps} revision(s) down from {current or 'an empty schema'}")
        return chain[:steps]
    if target not in known:
        raise InputError(
            f"no revision {target!r}",
            hint="give one of " + ", ".join(sorted(known)) + ", base, or -N (N revisions down)",
        )
    if target not in chain:
        raise InputError(
            f"revision {target} is not below the current one ({current})", hint="use db upgrade to go up"
        )
    return chain[: chain.index(target)]


def _losses(conn: Connection, revisions: list[str]) -> list[Loss]:
    present = set(inspect(conn).get_table_names())
    out = []
    for rev in revisions:
        for table in DROPPED_BY.get(rev, ()):
            if table in present and table not in _ALWAYS_THERE:
                rows = int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                if rows:
                    out.append(Loss(rev, table, rows))
    return out


def _sealed(conn: Connection, revisions: list[str]) -> int:
    """How many sealed values (sealing.py) the downgrade would keep in tables it does not drop."""
    from ..sealing import PREFIX, SealedText
    from .models import Base

    dropped = {t for rev in revisions for t in DROPPED_BY.get(rev, ())}
    present = set(inspect(conn).get_table_names()) - dropped
    count = 0
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            continue
        for column in table.columns:
            if isinstance(column.type, SealedText):
                count += int(
                    conn.execute(
                        text(f"SELECT COUNT(*) FROM {table.name} WHERE substr({column.name}, 1, :n) = :p"),
                        {"n": len(PREFIX), "p": PREFIX},
                    ).scalar_one()
                )
    return count


def downgrade(engine: Engine, revision: str, *, force: bool = False) -> list[Loss]:
    """Downgrade to `revision`; refuse (`StateError`, nothing changed) if that deletes records, unless
    `force`. Returns the rows deleted (empty when nothing was lost)."""
    from alembic import command
    from alembic.util.exc import CommandError

    with engine.execution_options(hf_write=True).begin() as conn:
        undone = _undone(conn, revision)
        losses = _losses(conn, undone)
        sealed = _sealed(conn, undone)
        if sealed:
            raise StateError(
                f"downgrading to {revision} would leave {sealed} value(s) sealed at rest (HENNAN_FLOW_KEY) "
                "that the releases before sealing cannot read",
                hint="keep the schema; hennan_flow has no way back to plain text",
            )
        if losses and not force:
            raise StateError(
                f"downgrading to {revision} would delete " + "; ".join(loss.line() for loss in losses),
                hint="keep the schema, or export what you need and run db downgrade again with --force "
                "(the deleted records cannot be restored by upgrading)",
            )
        try:
            command.downgrade(alembic_config(conn), revision)
        except CommandError as exc:
            raise InputError(f"cannot downgrade to {revision}: {exc}") from exc
    return losses


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (alembic check)."""
    from alembic import command

    with engine.connect() as conn:
        command.check(alembic_config(conn))
