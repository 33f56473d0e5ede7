"""What the engine remembers to do less work per operation (issue 27) gives what the work gave: the
audit and outbox JSON, local instants' text, and the deadlines a day's steps share."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from helpers import CLOCK_BUNDLE, CLOCK_START, simulation
from hennan_flow.clock.instants import SHANGHAI, local_iso
from hennan_flow.db.journal import as_json


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


DOCS: list[Any] = [
    {},
    {"b": 1, "a": "中文", "c": None, "d": True, "e": 2.5, "f": [1, {"z": 1, "y": 2}]},
    {"at": datetime(2026, 3, 2, 1, 0, tzinfo=UTC), "n": float("inf")},  # default=str, infinity
    OrderedDict([("z", 1), ("a", 2)]),
    MappingProxyType({"k": "v"}),
    {"quote": 'a"b\\c\n', "emoji": "😀"},
]


@pytest.mark.parametrize("doc", DOCS)
def test_event_json_is_what_json_dumps_writes(doc: Any) -> None:
    assert as_json(doc) == json.dumps(dict(doc), ensure_ascii=False, sort_keys=True, default=str)


def test_event_json_after_a_failed_encoding_is_still_right() -> None:
    inner: dict[str, Any] = {"x": _Unprintable()}
    with pytest.raises(RuntimeError):
        as_json({"outer": inner})
    again = {"outer": {"x": 1}}  # no stale state is left from the failure
    assert as_json(again) == '{"outer": {"x": 1}}'


def test_local_text_of_an_instant_in_any_form() -> None:
    utc = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    text = "2026-03-02T09:00:00+08:00"
    assert local_iso(utc) == local_iso(utc) == text
    assert local_iso(datetime(2026, 3, 2, 1, 0)) == text  # naive: taken as UTC
    assert local_iso(utc.astimezone(timezone(timedelta(hours=-5)))) == text
    assert local_iso(utc.astimezone(SHANGHAI)) == text
    assert local_iso(utc + timedelta(microseconds=1)) == "2026-03-02T09:00:00.000001+08:00"
    assert local_iso(None) is None


def test_steps_accepted_the_same_day_share_deadlines_but_not_their_views(tmp_path: Path) -> None:
    with simulation(f"sqlite:///{tmp_path / 'hf.db'}", CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        first = engine.start_case("review_clock").ready[0]
        clock.advance(minutes=5)
        second = engine.start_case("review_clock").ready[0]
        assert first.deadlines is not None and second.deadlines is not None
        assert first.deadlines == second.deadlines
        assert first.deadlines is not second.deadlines
        assert first.deadlines["signals"] is not second.deadlines["signals"]
        assert first.deadlines["pending"] is not second.deadlines["pending"]
        first.deadlines["signals"][0]["state"] = "changed by a caller"
        first.deadlines["pending"].append("changed")
        third = engine.start_case("review_clock").ready[0]
        assert third.deadlines == second.deadlines  # what a caller did to a view changes no other
        queued = {t.id: t.deadlines for t in engine.tasks(state="open")}
        assert queued[second.id] == second.deadlines == queued[third.id]  # as stored
