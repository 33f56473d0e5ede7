"""The permission check of every operation (DESIGN §8) against the directory in force.

`Authority` keeps the parsed directory per stored id, so a check costs one `MAX(id)` lookup per
transaction, never a parse or a query per step. With a directory stored, every mutating operation
needs an active user of it allowed by the permission table (identity.permissions). Without one, a
simulation database runs open (actor optional, no checks) and a production database refuses
everything but `db upgrade` and the first `directory load`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..db.raw import Raw
from ..db.transaction import Tx
from ..errors import PermissionDenied
from ..identity.directory import Directory, DirectoryUser, parse_directory
from ..identity.permissions import authorize, may_read_all

__all__ = ["NO_DIRECTORY_HINT", "Authority"]

NO_DIRECTORY_HINT = "请先载入部门与人员目录：hennan-flow directory load FILE（见 README：部门与人员目录）"


class Authority:
    """The directory in force (cached per stored id) and the permission check of every operation."""

    def __init__(self, is_simulation: Callable[[], bool]) -> None:
        self._is_simulation = is_simulation
        self._cached: tuple[int, Directory] | None = None
        self._simulation: bool | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        """After a schema change: read the simulation mark again."""
        self._simulation = None

    def simulation(self) -> bool:
        if self._simulation is None:
            self._simulation = self._is_simulation()
        return self._simulation

    def directory(self, raw: Raw, newest: int | None = None) -> Directory | None:
        """The stored directory in force, or None (one MAX(id) lookup unless `newest`, that id read
        already; parsed once per version)."""
        if newest is None:
            found = raw.row("SELECT MAX(id) FROM hf_directory")
            newest = int(found[0] or 0) if found else 0
        if newest == 0:
            return None
        cached = self._cached
        if cached is None or cached[0] != newest:
            row = raw.row("SELECT text, source FROM hf_directory WHERE id = ?", (newest,))
            assert row is not None
            cached = (newest, parse_directory(row[0], source=row[1]))
            with self._lock:
                self._cached = cached
        return cached[1]

    def check(
        self,
        tx: Tx | Raw,
        actor: str | None,
        operation: str,
        *,
        department: str | None = None,
        claimed_by: str | None = None,
        newest: int | None = None,
    ) -> None:
        """Refuse `operation` unless `actor` may do it (PermissionDenied); record the role it acts in
        (`newest`: the newest stored directory's id, when the caller read it already)."""
        directory = self.directory(tx.raw if isinstance(tx, Tx) else tx, newest)
        if directory is None:
            if self.simulation():
                return  # open mode: a simulation database without a directory
            raise PermissionDenied(
                f"尚未载入部门与人员目录，生产数据库上不能执行 {operation}", hint=NO_DIRECTORY_HINT
            )
        grant = authorize(directory, actor, operation, department=department, claimed_by=claimed_by)
        if isinstance(tx, Tx):
            tx.journal.roles[grant.actor] = grant.role

    def reader(self, raw: Raw, actor: str | None) -> DirectoryUser | None:
        """The user lists are filtered for: None reads everything (no actor, or one who reads all)."""
        if actor is None:
            return None
        directory = self.directory(raw)
        if directory is None:
            if self.simulation():
                return None
            raise PermissionDenied("尚未载入部门与人员目录，不能按操作人读取", hint=NO_DIRECTORY_HINT)
        user = directory.user(actor)
        if user is None or not user.active:
            raise PermissionDenied(
                f"{actor} 不是部门与人员目录 {directory.version} 中的在职用户，不能读取",
                hint="查看用户：hennan-flow directory show",
            )
        return None if may_read_all(user) else user
