"""Time-ordered ids for cases and their steps (UUID version 7, RFC 9562).

A random (version 4) id puts every new row at a random place in each B-tree keyed by it: the step
table, its deadlines and their signals, the case's state fragments, the audit log's case index. Each
insert then dirties another page (and often splits one), which the commit writes to the log. A
version 7 id starts with the creation time in milliseconds, so new rows land beside the last ones:
on the 10-step benchmark a transaction wrote 25.6 log pages on average with random ids, 21.9 with
these. The ids stay unguessable (74 random bits) and say no more than the row's own timestamps.

SpiffWorkflow 3.2.0 names its tasks with `uuid4()` looked up in its `task` module and offers no
hook, so `use_for_spiff_tasks` points that name at `uuid7` (once, at import of the runtime). The
pin (`==3.2.0`) keeps the target where it is; a test checks it took.

Within one process the ids are strictly increasing (RFC 9562 §6.2, method 2: within a millisecond
the next id is the last one plus a random increment of up to 2^40). So ids sort in creation order
even when SpiffWorkflow makes many tasks in one millisecond: the instances of a multi-instance
step, created one after the other, sort as their instances, in every run (issue 29). Each id
still carries at least 40 bits no earlier id tells.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID

__all__ = ["new_id", "use_for_spiff_tasks", "uuid7"]

_RANDOM_BITS = 74  # 12 (rand_a) + 62 (rand_b)
_INCREMENT_BITS = 40
_lock = threading.Lock()
_last = 0  # ms << 74 | random bits of the last id made in this process


def uuid7() -> UUID:
    """48 bits of Unix time in ms, the version, 12 random bits, the variant, 62 random bits;
    strictly greater than the last id this process made."""
    global _last
    ms = time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF
    rand = int.from_bytes(os.urandom(15), "big")
    with _lock:
        value = ms << _RANDOM_BITS | rand >> (120 - _RANDOM_BITS)
        if value <= _last:  # the same millisecond (or the clock stepped back): count on from the last
            value = _last + 1 + (rand & ((1 << _INCREMENT_BITS) - 1))
        _last = value
    return UUID(
        int=(value >> _RANDOM_BITS) << 80
        | 0x7 << 76
        | (value >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | value & ((1 << 62) - 1)
    )


def new_id() -> str:
    return str(uuid7())


def use_for_spiff_tasks() -> None:
    import SpiffWorkflow.task

    SpiffWorkflow.task.uuid4 = uuid7
