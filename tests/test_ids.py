"""Time-ordered ids: new cases and steps land beside the last ones in every B-tree keyed by them."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise
from pathlib import Path

from helpers import ACCEPT, REVIEW_LIB, migrated
from hennan_flow import Engine
from hennan_flow.ids import new_id, uuid7


def test_uuid7_is_a_version_7_rfc_uuid_that_sorts_by_creation_time() -> None:
    first = uuid7()
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert abs((first.int >> 80) - time.time_ns() // 1_000_000) < 5_000  # its first 48 bits: now, in ms
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert all(str(first) < x for x in later)  # text order is time order across milliseconds
    assert len(set(later)) == len(later)


def test_cases_and_their_steps_get_time_ordered_ids(tmp_path: Path) -> None:
    with Engine(migrated(f"sqlite:///{tmp_path / 'ids.db'}")) as engine:
        engine.deploy(str(REVIEW_LIB / "processes"))
        case = engine.start_case("review")
        [step] = case.ready
        # SpiffWorkflow 3.2.0 names tasks through its own uuid4; runtime points it at uuid7
        assert uuid.UUID(case.id).version == 7 and uuid.UUID(step.id).version == 7
        later = engine.complete_task(step.id, data=ACCEPT)
        assert later.ready and all(uuid.UUID(t.id).version == 7 for t in later.ready)


def test_ids_made_in_one_millisecond_still_sort_in_creation_order() -> None:
    """SpiffWorkflow makes a step's instances within one millisecond: they must sort as made (issue 29)."""
    made = [uuid7() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made)
    same_ms = [(a, b) for a, b in pairwise(made) if a.int >> 80 == b.int >> 80]
    assert same_ms  # the loop is fast enough to make many ids in one millisecond
    steps = {b.int - a.int for a, b in same_ms}
    assert len(steps) > len(same_ms) // 2  # the increment is random, not +1: the next id is not told
