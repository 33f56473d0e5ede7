"""The README's tour, copy-pasted into a shell in a fresh checkout (issue 18): every `hennan-flow`
line of its blocks runs with exit 0, in the order written, with TASK_ID and CASE_ID filled in."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CLI = Path(sys.executable).parent / "hennan-flow"


def tour_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A short tour", 1)[1].split("\nSupervise", 1)[0]
    lines = [line for block in re.findall(r"```sh\n(.*?)```", tour, re.S) for line in block.splitlines()]
    return [
        ["export", line] if line.startswith("export ") else shlex.split(line, comments=True)
        for line in lines
        if line.startswith(("hennan-flow ", "export "))
    ]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    archive = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    for name in archive.stdout.decode().split("\0"):
        if name.startswith(("processes/", "forms/", "examples/")) and (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    return tmp_path


def test_the_readme_tour_runs_copy_pasted(checkout: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENNAN_FLOW_")}

    def run(argv: list[str]) -> str:
        done = subprocess.run(
            [str(CLI), *argv[1:]], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stdout

    commands = []
    for argv in tour_commands():
        if argv[0] != "export":
            commands.append(argv)
            continue
        name = argv[1].removeprefix("export ").split("=", 1)[0]  # what the shell makes of the line
        shell = f'{argv[1]}\nprintf %s "${name}"'
        env[name] = subprocess.run(
            ["sh", "-c", shell], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert env[name], argv
    assert [c[1] for c in commands][:3] == ["validate", "audit", "calendar"]
    assert ["task", "form"] in [c[1:3] for c in commands]
    ran = 0
    for argv in commands:
        if "TASK_ID" in argv:
            ready = json.loads(
                run(
                    [
                        "hennan-flow",
                        "task",
                        "list",
                        "--department",
                        "amr",
                        "--state",
                        "ready",
                        "--format",
                        "json",
                    ]
                )
            )
            ready = ready or json.loads(
                run(["hennan-flow", "task", "list", "--state", "ready", "--format", "json"])
            )
            argv = [ready[0]["id"] if a == "TASK_ID" else a for a in argv]
        if "CASE_ID" in argv:
            (case,) = json.loads(run(["hennan-flow", "case", "list", "--format", "json"]))
            argv = [case["id"] if a == "CASE_ID" else a for a in argv]
        run(argv)
        ran += 1
    assert ran == len(commands) >= 11
    assert (checkout / "form.html").read_text(encoding="utf-8").startswith("<")
    assert (checkout / "hennan_flow.db").is_file()
    stored = (checkout / "hennan_flow.db").read_bytes()
    applicant = json.loads((checkout / "examples" / "applicant.json").read_text(encoding="utf-8"))
    assert env.get("HENNAN_FLOW_KEY") and applicant["id_number"].encode() not in stored
