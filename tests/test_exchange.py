"""GB/T 39046 data exchange (issue 22, DESIGN §10): `exchange export` and `exchange push`.

The scenario (enterprise_opening, Monday 2026-03-02 09:00 Shanghai): one case runs to its end and is
reviewed (好差评), four cases stay open until the end of April, when a sweep issues their cards. The
outbox it leaves gives records of several data sets; export writes them as JSON Lines, push posts
them to a real HTTP server on 127.0.0.1 that fails, stalls past the client's timeout and answers 500
at random (some of its 500s after it stored the batch), and to one that stalls until its pusher is
SIGKILLed mid-batch.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from helpers import FIXTURES, FORMS, REPO, START, at, cli, http_server, read, rows, simulation, write
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from hennan_flow.db.models import OutboxRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.exchange.datasets import SETS
from hennan_flow.exchange.push import Pusher
from hennan_flow.exchange.records import records_of

APPLICANT = {"name": "李湘南", "id_number": "430422199001011234"}
LATER = "2026-04-30T10:00"


@pytest.fixture
def sim(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(sqlite_url, BUNDLE, START, forms=FORMS) as sim:
        yield sim


def scenario(engine: Engine, clock: SimulatedClock) -> str:
    """The outbox of the module docstring's scenario; the finished case's id."""
    case = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-1")
    (task,) = engine.tasks(case=case.id)
    clock.set(at("2026-03-02T10:00"))
    engine.complete_task(task.id, data=WALK["register"], actor="amr-clerk")
    for task in engine.tasks(case=case.id):
        engine.complete_task(task.id, data=WALK[task.step], actor=f"{task.department}-clerk")
    engine.add_review(case.id, level=2, channel="window", actor="pad-1")
    for _ in range(4):
        engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-1")
    clock.set(at(LATER))
    engine.sweep()
    return case.id


def expected(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every record the whole outbox gives, by record id."""
    with read(engine) as session:
        events = list(session.query(OutboxRow).order_by(OutboxRow.id))
        return {r.id: {"set": r.data_set.table, **r.as_dict()} for r in records_of(session, events)}


def last_outbox_id(engine: Engine) -> int:
    return int(rows(engine, "SELECT COALESCE(MAX(id), 0) FROM hf_outbox")[0][0])


def files(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        p.stem: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]
        for p in sorted(folder.glob("*.jsonl"))
    }


# -- export ---------------------------------------------------------------------------------------


def test_export_writes_one_file_per_data_set_with_the_standards_field_names(
    sim: tuple[Engine, SimulatedClock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    done = scenario(engine, clock)
    want = expected(engine)
    out = tmp_path / "out"
    rc, stdout, err = cli(
        capsys, "--db", engine.url, "--now", LATER, "exchange", "export", "--output", str(out)
    )
    assert (rc, err) == (0, "")
    assert stdout.splitlines()[-1] == f"cursor {last_outbox_id(engine)}"
    got = files(out)
    assert sorted(got) == sorted(s.table for s in SETS)  # every set has its file, empty or not
    by_set = {s.table: s for s in SETS}
    seen = {}
    for table, records in got.items():
        for record in records:
            assert list(record) == [
                f for f in by_set[table].fields if f in record
            ]  # the set's names, in order
            assert record["project_no"]
            seen[record["row_guid"]] = {"set": table, **record}
    assert seen == want
    # the review gives one 评价 record with its GB/T 39046 A.8 level, the cards 电子监察 records
    (evaluation,) = got["up_pro_evaluation"]
    assert (evaluation["project_no"], evaluation["evaluate_level"], evaluation["evaluate_channel"]) == (
        done,
        "2",
        "window",
    )
    # the case run by the engine: 受理 at its start, one 办理过程 (通过) per completed step, 办结 0
    (accept,) = [r for r in got["up_pro_accept"] if r["project_no"] == done]
    assert (accept["task_code"], accept["org_code"], accept["handle_user_name"]) == (
        "enterprise_opening",
        "amr",
        "window-1",
    )
    assert accept["accept_date"] == "2026-03-02 09:00:00" and "applyer_name" not in accept
    assert len(got["up_pro_accept"]) == 5  # and the four open cases
    steps = rows(engine, "SELECT name FROM hf_task WHERE case_id = ? AND state = 'completed'", (done,))
    process = [r for r in got["up_pro_process"] if r["project_no"] == done]
    assert sorted(r["process_name"] for r in process) == sorted(name for (name,) in steps)
    assert {r["event_name"] for r in process} == {"通过"}
    (result,) = got["up_pro_result"]
    assert (result["project_no"], result["result_type"]) == (done, "0")
    cards = got["up_pro_supervision"]
    assert cards and {c["card_color"] for c in cards} <= {"黄牌", "红牌"}
    assert all(c["occur_time"][:4] == "2026" and len(c["occur_time"]) == 19 for c in cards)


def test_export_is_idempotent_by_record_id_and_resumes_from_its_cursor(
    sim: tuple[Engine, SimulatedClock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    out = tmp_path / "out"
    base = (
        "--db",
        engine.url,
        "--now",
        LATER,
        "--format",
        "json",
        "exchange",
        "export",
        "--output",
        str(out),
    )
    rc, stdout, _ = cli(capsys, *base, "--after", "0")
    first = json.loads(stdout)
    assert rc == 0 and first["cursor"] == last_outbox_id(engine) and sum(first["written"].values()) > 0
    before = files(out)
    rc, stdout, _ = cli(capsys, *base, "--after", "0")  # the same range again: nothing new
    again = json.loads(stdout)
    assert rc == 0 and sum(again["written"].values()) == 0
    assert again["already_present"] == sum(first["written"].values())
    assert files(out) == before
    rc, stdout, _ = cli(capsys, *base, "--after", str(first["cursor"]))  # from the cursor: no events
    assert rc == 0 and json.loads(stdout)["events"] == 0 and json.loads(stdout)["cursor"] == first["cursor"]


def test_applicant_fields_are_left_out_unless_asked_and_then_opened_with_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'sealed.db'}"
    monkeypatch.setenv("HENNAN_FLOW_KEY", key)
    with simulation(url, BUNDLE, START, forms=FORMS) as (engine, clock):
        scenario(engine, clock)
    assert APPLICANT["name"].encode() not in (tmp_path / "sealed.db").read_bytes()  # sealed at rest
    plain = tmp_path / "plain"
    rc, _, err = cli(capsys, "--db", url, "--now", LATER, "exchange", "export", "--output", str(plain))
    assert rc == 0, err
    text = "\n".join(p.read_text(encoding="utf-8") for p in plain.glob("*.jsonl"))
    assert APPLICANT["name"] not in text and APPLICANT["id_number"] not in text
    opened = tmp_path / "opened"
    args = ("--db", url, "--now", LATER, "exchange", "export", "--applicant")
    rc, _, err = cli(capsys, *args, "--output", str(opened))
    assert rc == 0, err
    accepted = files(opened).get("up_pro_accept", [])
    for record in accepted:
        assert (record["applyer_name"], record["applyer_page_code"]) == (
            APPLICANT["name"],
            APPLICANT["id_number"],
        )
    # without the key the sealed values cannot be opened: refused, nothing written, the key named
    monkeypatch.delenv("HENNAN_FLOW_KEY")
    refused = tmp_path / "refused"
    rc, out, err = cli(capsys, *args, "--output", str(refused))
    assert len(accepted) == 5
    assert (rc, out) == (2, "") and "HENNAN_FLOW_KEY" in err and key not in err
    assert not any(refused.glob("*.jsonl"))
    # and without --applicant the export needs no key at all: no sealed column is read
    rc, _, err = cli(
        capsys, "--db", url, "--now", LATER, "exchange", "export", "--output", str(tmp_path / "nokey")
    )
    assert (rc, err) == (0, "")
    assert files(tmp_path / "nokey") == files(plain)


def test_export_into_a_file_that_is_not_a_data_set_is_refused_with_exit_2(
    sim: tuple[Engine, SimulatedClock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    out = tmp_path / "out"
    out.mkdir()
    (out / "up_pro_evaluation.jsonl").write_text("not json\n", encoding="utf-8")
    rc, stdout, err = cli(
        capsys, "--db", engine.url, "--now", LATER, "exchange", "export", "--output", str(out)
    )
    assert (rc, stdout) == (2, "")
    assert "up_pro_evaluation.jsonl:1" in err and "不是数据集记录" in err
    assert (out / "up_pro_evaluation.jsonl").read_text(encoding="utf-8") == "not json\n"


def test_an_output_folder_that_cannot_be_made_is_said_in_chinese(
    sim: tuple[Engine, SimulatedClock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    (tmp_path / "notes.txt").write_text("x\n", encoding="utf-8")
    target = tmp_path / "notes.txt" / "out"
    rc, stdout, err = cli(
        capsys, "--db", engine.url, "--now", LATER, "exchange", "export", "--output", str(target)
    )
    assert (rc, stdout) == (2, "")
    assert (
        err
        == f"错误：{target}: 无法创建输出目录：路径中有一段不是目录。建议：用 --output 指定一个有写入权限的目录\n"
    )


# -- push -----------------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """A receiver that keeps each record once by its row_guid; `mode` decides how badly it behaves."""

    store: ClassVar[dict[str, dict[str, Any]]] = {}
    deliveries: ClassVar[Counter[str]] = Counter()
    answers: ClassVar[Counter[str]] = Counter()
    mode: ClassVar[str] = "good"
    rng: ClassVar[random.Random] = random.Random(39046)
    stall: ClassVar[threading.Event] = threading.Event()
    stalled: ClassVar[threading.Event] = threading.Event()
    requests: ClassVar[int] = 0
    stall_at: ClassVar[int] = 0
    lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls, mode: str) -> None:
        cls.store, cls.deliveries, cls.answers = {}, Counter(), Counter()
        cls.mode, cls.requests = mode, 0
        cls.rng = random.Random(39046)
        cls.stall, cls.stalled = threading.Event(), threading.Event()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _keep(self, body: dict[str, Any]) -> None:
        with self.lock:
            for record in body["records"]:
                self.deliveries[record["row_guid"]] += 1
                self.store.setdefault(record["row_guid"], record)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            type(self).requests += 1
            number = self.requests
        roll = self.rng.random() if self.mode == "flaky" else 1.0
        if self.mode == "stall" and number == self.stall_at:
            self._keep(body)  # stored, but the answer never comes: the pusher is killed meanwhile
            self.stalled.set()
            self.stall.wait(30)
            return
        if roll < 0.15:  # stall past the client's timeout
            self.answers["timeout"] += 1
            self.stall.wait(1.0)
            return
        if roll < 0.30:  # drop the connection without an answer
            self.answers["dropped"] += 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if roll < 0.45:  # a plain 500
            self.answers["500"] += 1
            self._answer(500)
            return
        self._keep(body)
        if roll < 0.60:  # stored, then a 500: the batch comes again and is kept once
            self.answers["500-after-store"] += 1
            self._answer(500)
            return
        self.answers["200"] += 1
        self._answer(200)

    def _answer(self, status: int) -> None:
        payload = b'{"ok": true}' if status == 200 else b'{"error": "busy"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_push_to_a_flaky_receiver_delivers_every_record_exactly_once(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    want = expected(engine)
    assert len(want) >= 10
    Receiver.reset("flaky")
    with http_server(Receiver, on_stop=Receiver.stall.set) as url:
        result = Pusher(
            engine.context, url, target="province", batch=1, retries=60, timeout=0.2, backoff=0.0
        ).run()
    assert sorted(Receiver.store) == sorted(want)  # every record, and only those
    assert Receiver.store == {k: v for k, v in want.items()}  # as exported, field for field
    assert result.records == len(want) and result.cursor == last_outbox_id(engine)
    # the receiver really misbehaved, and records it stored before a 500 came again
    assert Receiver.answers["timeout"] and Receiver.answers["dropped"] and Receiver.answers["500"]
    assert Receiver.answers["500-after-store"] and max(Receiver.deliveries.values()) >= 2
    # the stored cursor: a second push sends nothing
    Receiver.reset("good")
    with http_server(Receiver) as url:
        rc, out, err = cli(
            capsys,
            "--db",
            engine.url,
            "--now",
            LATER,
            "exchange",
            "push",
            "--url",
            url,
            "--target",
            "province",
        )
    assert (rc, err) == (0, "") and Receiver.requests == 0
    assert "0 record(s) in 0 batch(es)" in out


def test_a_receiver_that_never_answers_stops_the_push_with_exit_1_and_the_cursor_unmoved(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    Receiver.reset("flaky")
    Receiver.rng = random.Random(0)
    Receiver.rng.random = lambda: 0.35  # type: ignore[method-assign]  # always a plain 500
    with http_server(Receiver) as url:
        args = ("--db", engine.url, "--now", LATER, "exchange", "push", "--url", url, "--target", "prov")
        rc, out, err = cli(capsys, *args, "--retries", "3", "--backoff", "0")
    assert (rc, out) == (1, "")
    assert err.startswith("错误：接收方 prov：发件箱事件 1–") and "最后一次：HTTP 500" in err
    assert "游标仍停在 0" in err and Receiver.requests == 3
    assert APPLICANT["name"] not in err
    assert rows(engine, "SELECT COUNT(*) FROM hf_exchange_cursor")[0][0] == 0


def test_a_push_sigkilled_mid_batch_resumes_from_its_cursor(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    want = expected(engine)
    Receiver.reset("stall")
    Receiver.stall_at = 3
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    with http_server(Receiver, on_stop=Receiver.stall.set) as url:
        args = [sys.executable, "-m", "hennan_flow", "--db", engine.url, "--now", LATER, "exchange", "push"]
        proc = subprocess.Popen(
            [*args, "--url", url, "--target", "province", "--batch", "2", "--timeout", "60"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert Receiver.stalled.wait(60), proc.stderr.read() if proc.stderr else ""
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        (cursor,) = rows(engine, "SELECT cursor FROM hf_exchange_cursor WHERE target = 'province'")[0]
        assert cursor > 0  # two batches were acknowledged before the kill
        resent = set(Receiver.store)  # the third batch was stored, never acknowledged
        Receiver.mode = "good"
        rc, out, err = cli(
            capsys,
            "--db",
            engine.url,
            "--now",
            LATER,
            "exchange",
            "push",
            "--url",
            url,
            "--target",
            "province",
        )
    assert (rc, err) == (0, ""), err
    assert sorted(Receiver.store) == sorted(want)
    twice = {k for k, n in Receiver.deliveries.items() if n == 2}
    assert max(Receiver.deliveries.values()) == 2  # only the killed batch came twice
    assert twice and twice <= resent
    assert f"cursor {cursor} → {last_outbox_id(engine)}" in out


def test_push_options_are_checked_with_exit_2(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _clock = sim
    rc, out, err = cli(capsys, "--db", engine.url, "--now", LATER, "exchange", "push", "--url", "ftp://x")
    assert (rc, out) == (2, "") and "不是 http(s) 地址" in err
    rc, _, err = cli(
        capsys, "--db", engine.url, "--now", LATER, "exchange", "push", "--url", "http://x", "--batch", "0"
    )
    assert rc == 2 and "--batch" in err


# -- the mapping, kind by kind ----------------------------------------------------------------------

PAUSES = FIXTURES / "pauses" / "processes"  # `pauses`: review (may go to expert review), then decide


def test_each_reported_event_kind_gives_its_record_with_the_standards_codes(tmp_path: Path) -> None:
    """The §10 case and step events (written here as the engine writes them: ids and codes) give
    受理, 办理过程 (通过 / 退回 / 其他 for a step cancelled when its case ended), 特别程序 (a special procedure when it ends, an extension), 办结 (its
    result code per outcome); a pause, a claim and a signal give nothing."""
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", PAUSES, START) as (engine, clock):
        case = engine.start_case("pauses", actor="window-1")
        (review,) = engine.tasks(case=case.id)
        clock.set(at("2026-03-03T10:00"))
        engine.pause(review.id, reason="special_procedure", kind="expert_review", actor="amr-h1")
        clock.set(at("2026-03-05T10:00"))
        engine.resume(review.id, actor="amr-h2")
        clock.set(at("2026-03-05T11:00"))
        engine.extend(
            review.id, days=3, approver="amr-head", reason="专家意见分歧，需补充论证", actor="amr-h1"
        )
        clock.set(at("2026-03-05T15:00"))
        engine.complete_task(review.id, data={}, actor="amr-h1")
        now = engine.now()
        first = last_outbox_id(engine) + 1
        bundle = {"case": case.id, "bundle": "pauses", "version": 1, "at": "2026-03-05T15:00:00+08:00"}
        step = {**bundle, "task": review.id, "step": "review", "department": "amr", "actor": "amr-h1"}
        told = [
            ("case.started", case.id, {**bundle, "actor": "window-1"}),
            ("task.claimed", review.id, step),
            ("task.paused", review.id, step),
            ("task.resumed", review.id, step),
            ("task.extended", review.id, step),
            ("task.completed", review.id, step),
            ("task.returned", review.id, step),
            ("task.cancelled", review.id, step),
            ("signal.fired", "7", {"case": case.id}),
            ("case.completed", case.id, bundle),
            ("case.refused", case.id, {**bundle, "stage": "acceptance", "actor": "window-1"}),
            ("case.refused", case.id, {**bundle, "stage": "decision", "actor": "amr-head"}),
            ("case.withdrawn", case.id, {**bundle, "actor": "window-1"}),
            ("case.terminated", case.id, {**bundle, "reason": "supplement_missed"}),
            ("case.terminated", case.id, {**bundle, "reason": "false_commitment"}),
        ]
        with write(engine) as tx:
            for kind, ref, payload in told:
                tx.journal.publish(kind, case=case.id, ref=ref, at=now, payload=payload)
        with read(engine) as session:
            events = list(session.query(OutboxRow).filter(OutboxRow.id >= first).order_by(OutboxRow.id))
            got = [(r.data_set.table, r.as_dict()) for r in records_of(session, events)]
    kinds = [k for k, _, _ in told]
    assert [t for t, _ in got] == [
        "up_pro_accept",
        "up_pro_special_procedure",
        "up_pro_special_procedure",
        "up_pro_process",
        "up_pro_process",
        "up_pro_process",
        *["up_pro_result"] * 6,
    ]
    ids = {r["row_guid"] for _, r in got}
    assert len(ids) == len(got) and all(r["project_no"] == case.id for _, r in got)
    accept, special, extension, done, returned, cancelled, *results = (r for _, r in got)
    del accept["row_guid"], accept["project_no"]
    assert accept == {
        "task_code": "pauses",
        "task_name": "暂停规则测试件",
        "task_version": 1,
        "project_name": "暂停规则测试件",
        "apply_date": "2026-03-02 09:00:00",
        "accept_date": "2026-03-02 09:00:00",
        "org_code": "amr",
        "handle_user_name": "window-1",
        "promise_date": accept["promise_date"],
    }
    assert accept["promise_date"] and accept["promise_date"] > "2026-03-02"
    assert (special["special_type"], special["special_name"]) == ("expert_review", "专家评审")
    assert (special["special_time"], special["end_time"], special["handle_user"]) == (
        "2026-03-03 10:00:00",
        "2026-03-05 10:00:00",
        "amr-h2",
    )
    assert (extension["special_type"], extension["special_name"], extension["handle_user"]) == (
        "extension",
        "延长审批",
        "amr-h1",
    )
    assert extension["special_time"] == extension["end_time"] == "2026-03-05 11:00:00"
    assert "专家意见分歧" not in json.dumps(got, ensure_ascii=False)  # the staff's reason stays home
    assert (done["event_name"], returned["event_name"], cancelled["event_name"]) == ("通过", "退回", "其他")
    assert (done["process_name"], done["event_start_time"], done["event_end_time"]) == (
        "审查",
        "2026-03-02 09:00:00",
        "2026-03-05 15:00:00",
    )
    assert (done["handle_user_name"], done["org_code"]) == ("amr-h1", "amr")
    assert [r["result_type"] for r in results] == ["0", "6", "1", "5", "5", "2"]
    assert "行政复议" in results[2]["result_explain"]
    assert len(kinds) - len(got) == 3  # claimed, paused, signal.fired: no record


def test_a_receiver_that_is_down_stops_the_push_with_exit_1_naming_the_target(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    with http_server(Receiver) as url:
        pass  # the port is free again: nothing listens there
    args = ("--db", engine.url, "--now", LATER, "exchange", "push", "--url", url, "--target", "province")
    rc, out, err = cli(capsys, *args, "--retries", "2", "--backoff", "0")
    assert (rc, out) == (1, "")
    assert "接收方 province：" in err and "无法连接（ConnectError）" in err and "重新推送" in err
    assert rows(engine, "SELECT COUNT(*) FROM hf_exchange_cursor")[0][0] == 0


def test_the_engines_outcomes_give_their_result_codes_and_a_return_its_process_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real refusals, a withdrawal and a 退回 (issue 22's outcomes) as the export reports them."""
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    with simulation(url, PAUSES, START) as (engine, clock):
        not_accepted = engine.start_case("pauses", actor="window-1").id
        engine.refuse_case(not_accepted, stage="acceptance", reason="材料不齐且无法补正", actor="window-1")
        withdrawn = engine.start_case("pauses", actor="window-1").id
        engine.withdraw_case(withdrawn, reason="申请人撤回", actor="window-1")
        refused = engine.start_case("pauses", actor="window-1").id
        (review,) = engine.tasks(case=refused)
        engine.complete_task(review.id, data={}, actor="amr-h1")
        (decide,) = engine.tasks(case=refused)
        clock.set(at("2026-03-03T10:00"))
        again = engine.return_task(decide.id, to="review", reason="审查意见不完整", actor="amr-h2")
        engine.complete_task(again.id, data={}, actor="amr-h1")
        (decide,) = engine.tasks(case=refused)
        engine.refuse_case(
            refused, stage="decision", reason="不符合条件", basis="《某条例》第十条", actor="amr-h2"
        )
    out = tmp_path / "out"
    rc, _, err = cli(
        capsys, "--db", url, "--now", "2026-03-03T11:00", "exchange", "export", "--output", str(out)
    )
    assert rc == 0, err
    got = files(out)
    results = {r["project_no"]: r["result_type"] for r in got["up_pro_result"]}
    assert results == {not_accepted: "6", withdrawn: "5", refused: "1"}
    process = [
        (r["process_name"], r["event_name"]) for r in got["up_pro_process"] if r["project_no"] == refused
    ]
    assert process == [("审查", "通过"), ("决定", "退回"), ("审查", "通过"), ("决定", "其他")]
    text = json.dumps(got, ensure_ascii=False)
    for reason in ("材料不齐", "申请人撤回", "审查意见不完整", "不符合条件", "某条例"):
        assert reason not in text  # reasons are sealed staff texts: never exported


SAMPLE_DIRECTORY = REPO / "src" / "hennan_flow" / "data" / "directory.toml"


@pytest.mark.enforce
def test_export_and_push_are_the_admins_and_each_delivery_is_an_audit_event(
    sim: tuple[Engine, SimulatedClock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    scenario(engine, clock)
    engine.load_directory(str(SAMPLE_DIRECTORY))  # from now on §8 is enforced
    base = ("--db", engine.url, "--now", LATER, "exchange")
    out = str(tmp_path / "out")
    rc, stdout, err = cli(capsys, *base, "export", "--output", out)
    assert (rc, stdout) == (4, "") and "数据交换" in err
    rc, _, err = cli(capsys, *base, "export", "--output", out, "--actor", "asb-h1")
    assert rc == 4 and "asb-h1" in err and "admin" in err
    assert not (tmp_path / "out").exists()
    rc, _, err = cli(capsys, *base, "export", "--output", out, "--actor", "admin-he")
    assert (rc, err) == (0, "")
    Receiver.reset("good")
    with http_server(Receiver) as url:
        push = (*base, "push", "--url", url, "--target", "province", "--batch", "50")
        rc, _, err = cli(capsys, *push, "--actor", "asb-h1")
        assert rc == 4 and Receiver.requests == 0
        rc, _, err = cli(capsys, *push, "--actor", "admin-he")
    assert (rc, err) == (0, "")
    assert len(Receiver.store) == len(expected(engine))
    logged = rows(
        engine, "SELECT actor, role, detail FROM hf_event WHERE type = 'exchange.delivered' ORDER BY id"
    )
    assert logged and {(a, r) for a, r, _ in logged} == {("admin-he", "admin")}
    assert sum(json.loads(d)["records"] for _, _, d in logged) == len(Receiver.store)
