"""Who may export and push (DESIGN §8: `exchange export/push` is the admin's).

On a production database, or a simulation database with a directory, the actor must be an active
user with the role admin (PermissionDenied, exit 4, otherwise); a simulation database without a
directory runs open.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OPERATION", "authorize"]

OPERATION = "exchange"


def authorize(context: Any, actor: str | None) -> None:
    """Refuse unless `actor` may run the data exchange (read before anything is exported or sent)."""
    with context.reading() as raw:
        context.authority.check(raw, actor, OPERATION)
