"""The engine's CLI contract (issue 3): JSON documents, exit codes, one clear line on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import ACCEPT, REVIEW_LIB, database
from hennan_flow.cli import main
from hennan_flow.db import migrate
from hennan_flow.engine import Engine


class Cli:
    def __init__(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.capsys = db, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["--db", self.db, *args])
        out, err = self.capsys.readouterr()
        return int(info.value.code or 0), out, err

    def json(self, *args: str) -> object:
        code, out, err = self("--format", "json", *args)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    return Cli(f"sqlite:///{tmp_path / 'cli.db'}", capsys)


def one_error_line(err: str) -> str:
    assert err.startswith("错误：") and err.count("\n") == 1, err
    return err


def test_a_whole_case_through_the_cli_with_the_json_contract(cli: Cli, tmp_path: Path) -> None:
    status = cli.json("db", "upgrade")
    assert status == {
        "revision": migrate.head_revision(),
        "head": migrate.head_revision(),
        "up_to_date": True,
        "simulation": False,
    }
    deployed = cli.json("deploy", str(tmp_path / "lib" / "processes"))
    assert [(d["key"], d["version"], d["created"]) for d in deployed] == [("review", 1, True)]  # type: ignore[index]
    started = cli.json("case", "start", "review", "--applicant", '{"name": "王五"}')
    assert set(started) == {"id", "ready"}  # type: ignore[arg-type]
    case_id = started["id"]  # type: ignore[index]
    first = cli.json("task", "list", "--case", case_id)
    assert started["ready"] == first  # type: ignore[index]  # the queue's entries, deadlines included
    data_file = tmp_path / "accept.json"
    data_file.write_text(json.dumps(ACCEPT, ensure_ascii=False), encoding="utf-8")
    for _ in range(5):
        tasks = cli.json("task", "list", "--case", case_id)
        assert isinstance(tasks, list)
        if not tasks:
            break
        for t in tasks:
            assert set(t) >= {"id", "case", "step", "name", "department", "state"}
            assert t["state"] == "ready"
            args = ["task", "complete", t["id"], "--actor", "clerk"]
            if t["step"] == "accept":
                args += ["--data", f"@{data_file}"]
            if t["step"] == "decide":
                args += ["--data", '{"needs_supplement": false}']
            done = cli.json(*args)
            assert isinstance(done, dict) and done["state"] == "completed"
            # what the completion made ready is what the queue now lists beyond the steps still open
            queue = cli.json("task", "list", "--case", case_id)
            made = done.get("ready", [])
            assert [r for r in queue if r["ready_at"] == done["ended_at"]] == made, (made, queue)  # type: ignore[index]
    shown = cli.json("case", "show", case_id)
    assert isinstance(shown, dict)
    assert set(shown) >= {"id", "key", "version", "state", "events"}
    assert (shown["key"], shown["version"], shown["state"]) == ("review", 1, "completed")
    assert all(set(e) >= {"at", "type", "step", "actor"} for e in shown["events"])
    listed = cli.json("case", "list", "--state", "completed")
    assert [c["id"] for c in listed] == [case_id]  # type: ignore[union-attr,index]


def test_bad_input_is_answered_with_one_line_and_the_right_exit_code(cli: Cli, tmp_path: Path) -> None:
    code, _out, err = cli("task", "list")
    assert code == 2 and "hennan-flow db upgrade" in one_error_line(err)  # no schema yet
    assert cli("db", "upgrade")[0] == 0
    assert cli("deploy", str(tmp_path / "lib" / "processes"))[0] == 0
    code, _out, err = cli("case", "start", "nope")
    assert code == 2 and "没有已部署的事项包 'nope'" in one_error_line(err) and "review" in err
    code, _out, err = cli("case", "start", "review", "--data", "{not json")
    assert (
        code == 2
        and "--data 不是有效的 JSON：此处应为双引号括起的键名（第 1 行第 2 列）" in one_error_line(err)
    )
    code, _out, err = cli("case", "start", "review", "--data", "[1, 2]")
    assert code == 2 and "须为 JSON 对象" in one_error_line(err)
    code, _out, err = cli("case", "start", "review", "--data", "@missing.json")
    assert code == 2 and "无法读取 --data 文件 missing.json：文件不存在" in one_error_line(err)
    code, _out, err = cli("task", "complete", "00000000-0000-0000-0000-000000000000")
    assert code == 2 and "没有环节" in one_error_line(err)
    code, _out, err = cli("--now", "2026-03-02T09:00:00+08:00", "case", "start", "review")
    assert code == 2 and "非模拟数据库不接受模拟时间" in one_error_line(err)
    code, _out, err = cli("db", "upgrade", "--simulation")
    assert code == 2 and "已有数据的数据库不能改为模拟数据库" in one_error_line(err)
    code, _out, err = cli("--now", "yesterday", "case", "list")
    assert code == 2 and "ISO-8601" in one_error_line(err)

    case_id = cli.json("case", "start", "review")["id"]  # type: ignore[index]
    [task] = cli.json("task", "list", "--case", case_id)  # type: ignore[misc]
    code, _out, err = cli("task", "complete", task["id"], "--data", '{"capital": "many"}')
    assert code == 2 and "处填写有误" in one_error_line(err) and "/enterprise_name" in err
    assert cli("task", "complete", task["id"], "--data", json.dumps(ACCEPT))[0] == 0
    code, _out, err = cli("task", "complete", task["id"], "--data", json.dumps(ACCEPT))
    assert code == 1 and "办结" in one_error_line(err)  # a lost race: a failed check, exit 1


def test_a_database_behind_the_code_names_the_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = Engine(url)
    migrate.upgrade(database(engine), "0001")
    engine.close()
    code, _out, err = Cli(url, capsys)("case", "list")
    assert code == 2 and "表结构版本为 0001" in one_error_line(err) and "hennan-flow db upgrade" in err
    assert Cli(url, capsys).json("db", "current")["up_to_date"] is False  # type: ignore[index]
