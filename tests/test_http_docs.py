"""docs/http.md's curl session runs as written: from a key to a completed case over HTTP."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO
from http_service import free_port

DOC = REPO / "docs" / "http.md"


def session() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- session -->\n```sh\n(.*?)```\n<!-- /session -->", text, re.S)
    assert found, "docs/http.md lost its session block"
    return found.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_session_completes_a_case(tmp_path: Path) -> None:
    for name in ("processes", "forms", "src"):
        (tmp_path / name).symlink_to(REPO / name)
    script = session().replace("8080", str(free_port()))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("HENNAN_FLOW_ACTOR", "HENNAN_FLOW_JWKS", "HENNAN_FLOW_KEY", "HENNAN_FLOW_KEY_FILE"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.split()
    assert lines[-1] == "completed", done.stdout
    assert lines.count("completed") == 6  # five steps and the case
