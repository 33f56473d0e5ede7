"""The one writer of the audit log (`hf_event`) and the outbox (`hf_outbox`).

Every state change tells what it did here, in the transaction that does it (DESIGN §5): an audit
event (who, what, when — ids and codes only, never personal data) with `record`, an outbox event
for what portals and supervisors react to with `publish`, both with `announce`. The journal keeps
them in the order they were told and writes them when the transaction commits (`flush`), each
table in one multi-row INSERT (per 500 rows): a step's events cost one statement per table however
many there are, and nothing is written for a transaction that rolls back.

Outbox ids must become visible in increasing order, or a consumer that saved cursor 11 would never
see a slower transaction's id 10: SQLite serializes writers anyway; on PostgreSQL the flush first
takes a transaction-scoped advisory lock, so outbox writers commit one after another. The journal is
written last, just before COMMIT, so that lock is always the last one a transaction takes (after its
case rows) and cannot deadlock with the case locks; it is held only for the INSERT and the COMMIT.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import hotpath
from .raw import Raw

__all__ = ["Journal", "as_json"]

log = logging.getLogger(__name__)


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
# the encoder's C core, made once: `JSONEncoder.encode` makes one per call (a third of a small
# event's encoding, ~4 a step). No circular-reference markers: a shared dict of them would keep a
# stale entry after a failed encoding (details are ids and codes, never a cycle). Without the C
# module, the encoder itself.
_C_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, str, json.encoder.encode_basestring, None, ": ", ", ", True, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def as_json(doc: Mapping[str, Any]) -> str:
    """How event details and outbox payloads are stored: sorted keys, Chinese as is (the text of
    `json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str)`)."""
    if not doc:
        return "{}"
    if _C_ENCODE is not None and type(doc) is dict:
        return "".join(_C_ENCODE(doc, 0))
    return _ENCODER.encode(dict(doc))


class Journal:
    """The audit and outbox events of one transaction, written together at its commit."""

    __slots__ = ("_events", "_outbox", "acting", "roles")

    def __init__(self) -> None:
        self._events: list[tuple[Any, ...]] = []
        self._outbox: list[tuple[Any, ...]] = []
        self.roles: dict[str, str] = {"system": "system"}
        """The role each actor acts in within this transaction (set by the permission check)."""
        self.acting: str | None = None
        """The actor of events recorded without one (`system` in the sweeper's transactions)."""

    def record(
        self,
        type_: str,
        *,
        at: datetime,
        case: str | None = None,
        task: str | None = None,
        step: str | None = None,
        actor: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """An audit event: `type_` (e.g. task.completed) of a case, step instance and step, by `actor`."""
        actor = actor if actor is not None else self.acting
        role = self.roles.get(actor) if actor is not None else None
        self._events.append((case, task, at, type_, step, actor, role, as_json(detail or {})))
        log.info("%s case=%s task=%s step=%s", type_, case, task, step)

    def publish(
        self,
        type_: str,
        *,
        case: str | None,
        ref: str,
        at: datetime,
        payload: Mapping[str, Any],
        recorded_at: datetime | None = None,
    ) -> None:
        """An outbox event: `ref` is the id of what it is about (a card, a signal, a record), `at` the
        instant it happened (a card's due instant), `recorded_at` when it was written (default `at`)."""
        self._outbox.append((type_, case, ref, at, recorded_at or at, as_json(payload)))

    def announce(
        self,
        type_: str,
        *,
        case: str | None,
        ref: str,
        at: datetime,
        detail: Mapping[str, Any],
        payload: Mapping[str, Any],
        task: str | None = None,
        step: str | None = None,
        actor: str | None = None,
        outbox_type: str | None = None,
    ) -> None:
        """One state change told twice: to the audit log (`detail`: ids and codes) and to the outbox
        (`payload`, as `outbox_type`, default `type_`)."""
        self.record(type_, at=at, case=case, task=task, step=step, actor=actor, detail=detail)
        self.publish(outbox_type or type_, case=case, ref=ref, at=at, payload=payload)

    @property
    def pending(self) -> int:
        """How many events wait for the commit."""
        return len(self._events) + len(self._outbox)

    def flush(self, raw: Raw) -> None:
        """Write what was told (the transaction's last statements before COMMIT)."""
        if not self._events and not self._outbox:
            return
        stamp = _Stamps(raw)  # a transaction's events mostly share one instant: converted once
        if self._events:
            hotpath.insert_events(raw, [(*e[:2], stamp(e[2]), *e[3:]) for e in self._events])
            self._events.clear()
        if self._outbox:
            if raw.postgres:
                hotpath.outbox_lock(raw)  # held until the commit; taking it twice is harmless
            hotpath.insert_outbox(raw, [(*o[:3], stamp(o[3]), stamp(o[4]), o[5]) for o in self._outbox])
            self._outbox.clear()


class _Stamps:
    """`Raw.ts`, remembering the last instant object it converted (the same `now` comes again)."""

    __slots__ = ("_last", "_raw", "_stored")

    def __init__(self, raw: Raw) -> None:
        self._raw = raw
        self._last: datetime | None = None
        self._stored: Any = None

    def __call__(self, at: datetime) -> Any:
        if at is not self._last:
            self._last, self._stored = at, self._raw.ts(at)
        return self._stored
